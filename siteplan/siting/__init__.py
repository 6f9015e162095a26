"""Gap filling (服务盲区补点).

Where new facilities would cover the most uncovered demand (maximal covering, greedy and
exact).
"""
