"""Candidate parcels: a bureau's parcel layer, or street blocks made from the streets; shape
measures.
"""
