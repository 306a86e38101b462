"""Tests of registry.modelserver."""
