"""plantlake: lakehouse."""
