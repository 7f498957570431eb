"""Unit tests of buildpack.runtime.layers: the channel layers, against a real redis-server."""
