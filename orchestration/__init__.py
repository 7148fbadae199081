"""plantlake: orchestration."""
