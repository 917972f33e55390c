"""Root conftest: plugins our own tests use (pytest_plugins is only honoured here)."""

pytest_plugins = ["pytester"]
