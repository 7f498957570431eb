"""Config vars at build time: one file per variable in ENV_DIR (never exported, never logged)."""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.core import safefs

MAX_VALUE_BYTES = 256 * 1024
MAX_VARIABLES = 10_000


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """``{NAME: value}`` from ENV_DIR; missing dir -> ``{}``. Values are kept exactly.

    Only regular files named like an identifier count, up to MAX_VALUE_BYTES each (a FIFO,
    directory or oversized file is skipped, never waited on); undecodable bytes are replaced.
    """
    if env_dir is None:
        return {}
    try:
        with os.scandir(env_dir) as entries:
            names = sorted(entry.name for entry in entries if entry.name.isidentifier())
    except OSError:  # missing, not a directory, unreadable
        return {}
    values: dict[str, str] = {}
    for name in names[:MAX_VARIABLES]:
        try:
            values[name] = safefs.read_bytes(env_dir / name, MAX_VALUE_BYTES).decode(
                "utf-8", errors="replace"
            )
        except OSError:
            continue
    return values
