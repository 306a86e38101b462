"""The model server (`ollama-py serve`): the HTTP APIs, the scheduler of runner processes, prompt templates, model creation."""
