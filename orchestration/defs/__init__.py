"""Dagster definitions by layer: each folder holds the assets (with their checks) of one layer."""
