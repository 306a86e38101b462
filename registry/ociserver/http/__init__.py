"""The registry's HTTP surface: the application, the route modules (leaves), bodies, errors, metrics, guards."""
