"""Pictures a person looks at, as files: image grids (generator outputs in [-1, 1] ->
uint8 pixels -> one tiled PNG) and matplotlib figures saved atomically.

Neutral ground: sampling (exports, interpolations) and report (grids, curves) both
draw with it, and it imports neither of them.
"""
