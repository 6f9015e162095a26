"""A new city in one command: a study folder from OSM data (``siteplan init``, ``siteplan parcels``).

:mod:`~siteplan.init_study.sources` reads the city (raw OSM, a line layer or Overpass),
:mod:`~siteplan.init_study.blocks` makes candidate parcels of its street blocks,
:mod:`~siteplan.init_study.survey` says what the data has and lacks,
:mod:`~siteplan.init_study.template` and :mod:`~siteplan.init_study.report` write the study
file and its report, and :mod:`~siteplan.init_study.build` puts them together
(:func:`~siteplan.init_study.build.init_study`).
"""
