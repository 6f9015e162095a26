"""Raw OpenStreetMap (``.osm``, ``.osm.pbf``) and Overpass downloads into street lines and
facility features.
"""
