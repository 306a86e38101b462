"""The command line: the composition root. The only place that reads argv and the environment."""
