"""Candidate parcels.

A bureau's parcel layer, or street blocks made from the streets; shape measures.
"""
