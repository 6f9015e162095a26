"""Foundations every layer shares.

Errors, the bilingual label table, atomic writes, OSM tag access, every default and
standard (:mod:`~siteplan.core.defaults`) and the column-name contract
(:mod:`~siteplan.core.columns`).  Imports nothing else of siteplan.
"""
