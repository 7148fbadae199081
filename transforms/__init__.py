"""plantlake: transforms."""
