"""Public path of the settings layer: ``from buildpack.settings import configure``.

The code lives in :mod:`buildpack.runtime.config.settings`.
"""

from buildpack.runtime.config.settings import configure

__all__ = ["configure"]
