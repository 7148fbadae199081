"""Dagster assets of the silver layer."""
