"""Input and output of layers: files, CSVs, PostGIS, rasters, CRSs and Chinese map offsets.

:func:`siteplan.io.layers.read_input` reads every input layer a study describes
(:class:`siteplan.io.inputs.InputLayer`); it imports only :mod:`siteplan.core`.
"""
