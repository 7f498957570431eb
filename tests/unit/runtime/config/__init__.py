"""Unit tests of buildpack.runtime.config: the settings layer and the system checks."""
