"""plantlake: ml."""
