"""Unit tests of buildpack.runtime: what runs in the app's Python."""
