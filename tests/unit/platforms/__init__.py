"""Unit tests of buildpack.platforms: the classic and Cloud Native Buildpack adapters."""
