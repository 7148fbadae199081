"""plantlake: ingestion."""
