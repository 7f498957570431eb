"""Unit tests of buildpack.core.install: the pip runner, our runtime package, the steps."""
