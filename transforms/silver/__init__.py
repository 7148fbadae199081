"""Silver transforms: bronze rows to conformed, deduplicated, ISA-95 keyed tables."""
