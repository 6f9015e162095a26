"""Gap filling (服务盲区补点): where new facilities would cover the most uncovered demand
(maximal covering, greedy and exact).
"""
