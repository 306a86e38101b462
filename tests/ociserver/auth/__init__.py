"""Tests of the registry server's authentication and login limits (registry/ociserver/auth)."""
