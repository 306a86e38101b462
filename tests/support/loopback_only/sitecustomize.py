"""Installs the loopback-only guard (``loopback_guard.py`` beside this file) in every Python process
the tests start: ``tests/conftest.py`` puts this directory on ``PYTHONPATH`` for the session."""

import loopback_guard

loopback_guard.install()
