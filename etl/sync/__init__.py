"""Sync: one run that chains extract, normalize and load (full load, then incremental)."""
