"""Tests of the registry server's HTTP layer (registry/ociserver/http)."""
