"""Grids (网格): the territory tree from district down to building, and locating a point in it."""
