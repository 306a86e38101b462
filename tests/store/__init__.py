"""Tests of registry.store."""
