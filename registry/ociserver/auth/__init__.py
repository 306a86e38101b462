"""Who may do what: Basic and Bearer authentication, the access model, password checks, login throttling."""
