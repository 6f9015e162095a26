"""Core: errors, labels, defaults, column names, tags, atomic writes, progress and version.

The bottom layer: every other part of siteplan may import it, and it imports none of them.
"""
