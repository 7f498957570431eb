"""Root conftest: registers the real-process fixtures for every test module."""

pytest_plugins = ["tests.support.fixtures"]
