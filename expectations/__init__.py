"""plantlake: expectations."""
