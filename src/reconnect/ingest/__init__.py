"""Ingest: landing files -> bronze Delta tables, incremental, with a quarantine for bad lines."""
