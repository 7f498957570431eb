"""Rules shared by build-time analysis and run-time system checks (no Django imports)."""

from __future__ import annotations

from collections.abc import Sequence


def daphne_after_staticfiles(installed_apps: Sequence[str]) -> bool:
    """True when 'daphne' is listed after staticfiles, so runserver is not Daphne's."""
    apps = list(installed_apps)
    staticfiles = "django.contrib.staticfiles"
    return (
        "daphne" in apps and staticfiles in apps and apps.index("daphne") > apps.index(staticfiles)
    )
