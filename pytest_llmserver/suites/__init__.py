"""Built-in test modules, collected by the plugin when ``--llm-server`` is given without paths."""
