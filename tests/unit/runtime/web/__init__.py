"""Unit tests of buildpack.runtime.web: forwarded addresses, the fast path, the DB hop."""
