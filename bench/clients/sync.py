"""Ready/go/stop files shared by the client programs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable, Coroutine
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


def run_client(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Any]],
    *,
    until: str,
    max_seconds: float,
) -> None:
    """Add the coordination options (``--ready-file``, ``--go-file`` or ``--stop-file`` as
    *until* says, ``--out``, ``--max-seconds``), parse, run, and write the result to --out."""
    parser.add_argument("--ready-file", required=True)
    parser.add_argument(f"--{until}-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-seconds", type=float, default=max_seconds)
    args = parser.parse_args()
    write_json(args.out, asyncio.run(run(args)))
