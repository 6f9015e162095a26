"""The walking network.

Built from street lines or raw OSM (:mod:`~siteplan.network.build`), held as a CSR array
graph (:mod:`~siteplan.network.graph`), with snapping and bounded shortest paths on
scipy.sparse.csgraph.
"""
