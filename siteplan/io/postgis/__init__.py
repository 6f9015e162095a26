"""PostgreSQL/PostGIS tables and queries as input layers, and the shortlist written back
(the ``postgis`` extra).
"""
