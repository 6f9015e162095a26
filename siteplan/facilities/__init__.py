"""Facilities by class.

The OSM/name rules table, municipal layers with a declared class, duplicate merging and
labelled transport proxies.
"""
