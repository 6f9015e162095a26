"""OpenStreetMap sources: raw ``.osm``/``.osm.pbf`` files and Overpass downloads.

Both become street lines and facility features with the schema of GDAL's OSM driver.
"""
