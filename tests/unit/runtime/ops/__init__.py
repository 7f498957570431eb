"""Unit tests of buildpack.runtime.ops: layer state, background channels, autoscaling."""
