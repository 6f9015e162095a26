"""Facilities: classifying OSM features and reading municipal layers with declared classes."""
