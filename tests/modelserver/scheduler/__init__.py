"""Tests of registry.modelserver.scheduler (with an in-process fake runner; the llama.cpp runner's
scheduling tests are tests/modelserver/api/test_scheduling.py)."""
