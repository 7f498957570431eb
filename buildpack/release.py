"""``bin/release BUILD_DIR``: YAML with default process types and add-ons to provision.

Add-ons apply on an app's first deploy only. Process types mirror the Procfile in the slug
(the user's, or the one compile wrote); ``release`` is left to the Procfile, which is the
only place Heroku reads the release phase from.
"""

from __future__ import annotations

import json
from pathlib import Path

from buildpack import procfile
from buildpack.compile import STATE_FILE

REDIS_ADDON = "heroku-redis:mini"


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: safe for $PORT, ' #', ':' etc.
    return json.dumps(value)


def release_yaml(build_dir: Path) -> str:
    """The YAML document ``bin/release`` prints."""
    procfile_path = build_dir / "Procfile"
    processes = {}
    if procfile_path.is_file():
        processes = procfile.parse(procfile_path.read_text(encoding="utf-8", errors="replace"))
    processes.pop("release", None)
    state_path = build_dir / STATE_FILE
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
    addons = [REDIS_ADDON] if state.get("redis_addon") else []
    lines = ["---", "addons:" + ("" if addons else " []")]
    lines += [f"  - {addon}" for addon in addons]
    lines.append("default_process_types:" + ("" if processes else " {}"))
    lines += [f"  {name}: {_quoted(command)}" for name, command in processes.items()]
    return "\n".join(lines) + "\n"
