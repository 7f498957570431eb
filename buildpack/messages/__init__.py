"""Every error, warning and hint users see, and the typed errors that carry them.

Each text says what happened, why it matters, and the exact fix, in one or two lines. Texts
are templates filled with ``str.format``, by audience:

* :mod:`.build`: the build log (prerequisites, the analysis, the Procfile lint, Cloud Native
  Buildpacks);
* :mod:`.run`: the processes on a dyno (the settings layer and its config vars, the system
  checks, the launchers, the web engines, Redis);
* :mod:`.operate`: ``status``, ``init`` and ``doctor``.

Every name is available here (``messages.PROCFILE_CHAIN``). An error the user can fix is
raised as a :class:`UserError` that carries its template and its data, and its text is made
here, in one place (as heroku/buildpacks-python's ``errors.rs`` does): the code that finds
the problem says which problem and with what values, never how it reads. A test fails on a
``Fix:`` text anywhere else in ``buildpack/``; the one exception is ``bin/compile`` and
``bin/build``, which print theirs when there is no Python to run this package with.

Standard library only, importable by every part of the package.
"""

from __future__ import annotations

from typing import Any

from buildpack.messages.build import *  # noqa: F403
from buildpack.messages.operate import *  # noqa: F403
from buildpack.messages.run import *  # noqa: F403
from buildpack.messages.run import FIX_HINT


class UserError(Exception):
    """A problem the user can fix: a template of this package and the data that fills it.

    ``str(error)`` is the text; ``error.template`` and ``error.data`` keep what it was made
    from, so a caller can tell problems apart without reading the text.
    """

    def __init__(self, template: str, /, **data: Any) -> None:
        self.template = template
        self.data = data
        super().__init__(template.format(**data))


class ConfigError(UserError):
    """A configuration value (a config var, a setting) the app cannot run with."""


class LaunchError(UserError):
    """A start-up problem of a process: the launcher logs it in one line and exits 1."""


class StatusError(UserError):
    """What ``status`` cannot read: it says why, then exits 1."""


def problem_and_fix(text: str) -> tuple[str, str]:
    """``("<problem>", "Fix: <fix>")`` from a one-line ``<problem> Fix: <fix>`` text, for a
    system check's message and hint."""
    problem, _, fix = text.partition(" Fix: ")
    return problem, FIX_HINT.format(fix=fix)
