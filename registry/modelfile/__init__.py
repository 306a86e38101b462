"""Modelfiles: a pure parser and writer (no I/O)."""
