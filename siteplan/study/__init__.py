"""A study: its typed model, how to read each input, and what a run computed.

The model of the TOML file (:mod:`~siteplan.study.model`) and the result of a run
(:mod:`~siteplan.study.result`).  Importing it does not load the engine.
"""
