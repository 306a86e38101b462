"""The route modules of the model server: leaves that import the shared request logic below them, never each other."""
