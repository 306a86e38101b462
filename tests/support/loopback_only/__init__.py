"""The loopback-only guard of the test session (``loopback_guard``), and the ``sitecustomize`` that
installs it in the Python subprocesses the tests start (this directory goes on their ``PYTHONPATH``)."""
