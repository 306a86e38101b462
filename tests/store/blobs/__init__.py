"""Tests of registry.store.blobs."""
