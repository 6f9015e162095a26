"""What a run writes.

Shortlists (CSV, XLSX, GeoPackage), the run summary, gap-filling outputs, batch reports and
maps (:mod:`~siteplan.outputs.maps`).
"""
