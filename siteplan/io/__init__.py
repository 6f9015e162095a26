"""Reading inputs: the only layer that opens input files.

Vector layers and lon/lat CSVs (:mod:`~siteplan.io.layers`), their one description
(:mod:`~siteplan.io.inputs`), CRSs and Chinese map offsets, rasters, PostGIS.
"""
