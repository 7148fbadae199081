"""Dagster assets of the ops layer."""
