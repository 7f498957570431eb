"""``channels-buildpack migrate [--chdir DIR]``: the release phase, also safe under honcho.

Runs ``python manage.py migrate --noinput`` and exits with its status: that is the release
phase on Heroku and Dokku. Under a local process manager (honcho, foreman) a process that
exits makes it stop every other process, so there it stays up, idle, after migrating.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from buildpack import envvars, log, messages

COMPONENT = "release"


def under_local_process_manager() -> bool:
    """True when honcho/foreman started us (they stop everything when one process exits)."""
    return envvars.local_process_manager() and not envvars.on_dyno()


def main(args: argparse.Namespace) -> int:
    """Migrate; then exit (platform) or idle until stopped (local process manager)."""
    project = Path(args.chdir or ".")
    manage = project / "manage.py"
    if not manage.is_file():
        log.runtime_error(COMPONENT, messages.NO_MANAGE_PY.format(path=project.resolve()))
        return 1
    code = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=project, check=False
    ).returncode
    if code != 0 or not under_local_process_manager():
        return code
    log.runtime(COMPONENT, messages.RELEASE_IDLE_LOCALLY)
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    while not received:
        signal.pause()
    return 0
