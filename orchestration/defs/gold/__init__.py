"""Dagster assets of the gold layer."""
