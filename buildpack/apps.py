"""Django app config: registers channels-buildpack's system checks (``manage.py check --deploy``).

The settings layer adds this app to INSTALLED_APPS; add ``"buildpack"`` yourself to get the
checks without the layer.
"""

from __future__ import annotations

from django.apps import AppConfig


class ChannelsBuildpackConfig(AppConfig):  # type: ignore[misc]
    name = "buildpack"
    label = "channels_buildpack"
    verbose_name = "channels-buildpack"

    def ready(self) -> None:
        # late import: Django imports this module while it fills the app registry; the
        # checks (which read the settings) load in ready(), as Django recommends
        from buildpack.runtime.config import checks

        checks.register()
