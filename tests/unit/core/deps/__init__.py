"""Unit tests of buildpack.core.deps: the dependency-file readers."""
