"""Config vars at build time: one file per variable in ENV_DIR (never exported, never logged)."""

from __future__ import annotations

from pathlib import Path

MAX_VALUE_BYTES = 256 * 1024


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """``{NAME: value}`` from ENV_DIR; missing dir -> ``{}``. Values are kept exactly."""
    if env_dir is None or not env_dir.is_dir():
        return {}
    values: dict[str, str] = {}
    for entry in sorted(env_dir.iterdir()):
        if (
            entry.is_file()
            and entry.name.isidentifier()
            and entry.stat().st_size <= MAX_VALUE_BYTES
        ):
            values[entry.name] = entry.read_text(encoding="utf-8", errors="replace")
    return values
