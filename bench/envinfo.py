"""What a run ran on: date, machine, CPU, Python, package versions, load generator."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import socket
import sys
from pathlib import Path
from typing import Any

import psutil

from bench.load import wrk_version
from bench.stack import Context

PYTHON_LOADGEN = (
    "bench.clients.http_load: N processes, each one asyncio loop with M keep-alive "
    "HTTP/1.1 connections on raw sockets (closed loop, Content-Length and chunked bodies)"
)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def machine_name() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()) or "machine"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect(ctx: Context, argv: list[str]) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    loadgen: dict[str, Any] = {"http": ctx.loadgen}
    if ctx.loadgen == "wrk":
        loadgen["http_detail"] = f"{wrk_version()} (1 thread, Lua done() reports percentiles)"
    else:
        loadgen["http_detail"] = PYTHON_LOADGEN
    loadgen["websocket"] = (
        f"bench.clients.ws_echo / ws_hold: websockets {_version('websockets')} asyncio "
        "client, compression off, one event loop per process"
    )
    return {
        "date": now.strftime("%Y-%m-%d"),
        "timestamp": now.isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "machine": machine_name(),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "profile": ctx.profile.name,
        "command": " ".join(["python -m bench", *argv]),
        "load_generator": loadgen,
        "versions_slug": ctx.peer_versions,
        "versions_bench": {
            n: _version(n)
            for n in ("websockets", "redis", "psutil", "matplotlib", "channels-redis")
        },
    }
