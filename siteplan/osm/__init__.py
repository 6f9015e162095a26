"""Raw OpenStreetMap: .osm/.osm.pbf files and Overpass downloads, as tag tables.

Street lines and facility features come out with the schema of GDAL's OSM driver (tag columns
plus an hstore ``other_tags``), whichever source they came from.
"""
