"""Unit tests of buildpack.core: the build-time core (static analysis, generation, installs)."""
