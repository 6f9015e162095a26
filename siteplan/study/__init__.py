"""A study: the typed model of its TOML file (:mod:`~siteplan.study.model`), how to read each
input, and what a run computed (:mod:`~siteplan.study.result`).  Importing it does not load the
engine.
"""
