"""Public path of the in-memory layer: see :mod:`buildpack.runtime.layers.memory`."""

from buildpack.runtime.layers.memory import InMemoryChannelLayer

__all__ = ["InMemoryChannelLayer"]
