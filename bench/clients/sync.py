"""Ready/go/stop files shared by the client programs."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any


def write_json(path: str | Path, data: Any) -> None:
    """Write atomically (the reader polls for the file)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, target)


async def wait_for_file(path: str | Path, deadline: float) -> dict[str, Any] | None:
    """Poll for a JSON file until ``deadline`` (monotonic); None if it never came."""
    target = Path(path)
    while time.monotonic() < deadline:
        if target.exists():
            return json.loads(target.read_text())
        await asyncio.sleep(0.005)
    return None


async def sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def raise_fd_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
