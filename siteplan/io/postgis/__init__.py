"""PostgreSQL/PostGIS sources: URLs, connections, and reading and writing layers.

Needs the ``postgis`` extra (``pip install 'siteplan[postgis]'``).
"""
