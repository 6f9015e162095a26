"""Network access.

Nearest-facility distances and counts, catchments (service areas), residential coverage and
blind spots, 2SFCA supply/demand.
"""
