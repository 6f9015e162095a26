"""Walking street networks: building, noding, snapping features and shortest paths."""
