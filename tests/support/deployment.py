"""Drive a built app as a set of dynos (web.N, worker.N) on the emulated platform."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.platform import Build, Platform
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ManagedProcess, ProcessGroup
from tests.support.ws import http_get

ACCEPTING = re.compile(r"process (\d+) accepting connections \(pid (\d+)\)")
WORKER_READY = re.compile(r"worker: (serving .*|.*stays idle.*|no background channels.*)")


def wait_for_matches(
    proc: ManagedProcess, pattern: re.Pattern[str], count: int, timeout: float = 60.0
) -> list[re.Match[str]]:
    """Wait until *pattern* matched *count* times in the process output."""
    deadline = time.monotonic() + timeout
    while True:
        matches = list(pattern.finditer(proc.output()))
        if len(matches) >= count:
            return matches
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{proc.name}: wanted {count} x {pattern.pattern!r}, got {len(matches)}\n"
                f"{proc.tail(80)}"
            )
        time.sleep(0.05)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll *condition* until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Dyno:
    """A running dyno process."""

    name: str
    process: ManagedProcess
    port: int | None = None
    pids: list[int] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 15.0) -> tuple[int, str]:
        return http_get(self.http + path, timeout=timeout)


class Deployment:
    """Start web and worker dynos of one build with a shared environment."""

    def __init__(
        self, platform: Platform, procs: ProcessGroup, build: Build, env: Mapping[str, str]
    ) -> None:
        self.platform = platform
        self.procs = procs
        self.build = build
        self.env = dict(env)

    def web(
        self,
        dyno: str = "web.1",
        processes: int = 1,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Dyno:
        port = free_port()
        extra = {**self.env, "WEB_CONCURRENCY": str(processes), **(env or {})}
        process = self.platform.start(
            self.procs, self.build, "web", dyno=dyno, port=port, env=extra
        )
        result = Dyno(dyno, process, port)
        if wait:
            wait_for_port(port, proc=process, timeout=60)
            matches = wait_for_matches(process, ACCEPTING, processes)
            result.pids = [int(m.group(2)) for m in matches]
        return result

    def worker(
        self,
        dyno: str = "worker.1",
        env: Mapping[str, str] | None = None,
        command: str | None = None,
        wait: bool = True,
    ) -> Dyno:
        process = self.platform.start(
            self.procs,
            self.build,
            "worker",
            dyno=dyno,
            env={**self.env, **(env or {})},
            command=command,
        )
        result = Dyno(dyno, process)
        if wait:
            wait_for_matches(process, WORKER_READY, 1)
        return result

    def install(self, *requirements: str) -> None:
        """pip-install extra packages into the slug's Python (a user pinning a version)."""
        from tests.support.platform import uv_binary

        python = str(self.build.app_dir / ".heroku" / "python" / "bin" / "python")
        subprocess.run(
            [uv_binary(), "pip", "install", "-q", "--python", python, *requirements],
            check=True,
            capture_output=True,
        )


async def send_jobs(url: str, channel: str, ids: list[str], **fields: Any) -> None:
    """Send job messages from this test process through our Redis layer."""
    from buildpack.runtime.layers.redis import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[url], capacity=100_000)
    try:
        for job_id in ids:
            await layer.send(channel, {"type": "job.run", "id": job_id, **fields})
    finally:
        await layer.close_pools()


def send_jobs_sync(url: str, channel: str, ids: list[str], **fields: Any) -> None:
    asyncio.run(send_jobs(url, channel, ids, **fields))
