"""Dagster assets of the bronze layer."""
