"""PostgreSQL/PostGIS tables and queries as input layers, and the shortlist written back.

Needs the ``postgis`` extra (``pip install 'siteplan[postgis]'``).
"""
