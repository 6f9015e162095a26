"""What a run writes: shortlists (CSV, XLSX, GeoPackage), the run summary, gap-filling outputs,
batch reports and maps (:mod:`~siteplan.outputs.maps`).
"""
