"""Scoring parcels.

Criterion raw values, transforms and weights, hard constraints, score and rank, seed
compliance and the programme calculator.
"""
