"""plantlake: plant."""
