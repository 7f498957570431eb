"""Count the Redis clients each dyno (and each process of a dyno) holds.

A client is an ESTABLISHED TCP connection from one of the dyno's processes to the Redis
server's port, read from ``/proc`` with psutil: the same number ``CLIENT LIST`` shows on
the server, attributed to a process without naming connections. :class:`ClientSampler`
polls every few milliseconds in a thread and keeps the peak per dyno and for the server
(``INFO clients``), for measurements "under load".
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from tests.support.procs import ManagedProcess, group_members

__all__ = ["ADMIN_NAME", "ClientSampler", "clients_by_pid", "dyno_clients", "server_clients"]


def clients_by_pid(pids: Iterable[int], redis_port: int) -> dict[int, int]:
    """Open connections to ``127.0.0.1:redis_port`` per pid (pids that vanished count 0)."""
    counts: dict[int, int] = {}
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            counts[pid] = 0
            continue
        counts[pid] = sum(
            1
            for c in connections
            if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == redis_port
        )
    return counts


def dyno_clients(proc: ManagedProcess, redis_port: int) -> dict[int, int]:
    """Redis clients of every live process of a dyno (its process group), by pid."""
    return clients_by_pid(group_members(proc.pgid), redis_port)


ADMIN_NAME = "cbp-test-admin"


def server_clients(admin: Any) -> int:
    """Clients connected to the server, the admin's own not counted: all of them when it
    was made with ``client_name=ADMIN_NAME`` (a sync client used from two threads, a
    sampler's and the test's, opens a second connection), else the one asking."""
    if admin.get_connection_kwargs().get("client_name") == ADMIN_NAME:
        return sum(1 for client in admin.client_list() if client.get("name") != ADMIN_NAME)
    return int(admin.info("clients")["connected_clients"]) - 1


@dataclass
class Sample:
    """Peaks seen while sampling: per dyno (sum over its processes), per process, server."""

    dyno_peak: dict[str, int] = field(default_factory=dict)
    process_peak: dict[str, int] = field(default_factory=dict)
    server_peak: int = 0
    samples: int = 0


class ClientSampler:
    """Poll the dynos' client counts in a thread; ``with ClientSampler(...) as s: ...``.

    ``dynos`` maps a label to a process; ``admin`` is a sync redis-py client on the
    server (its own connection is not counted).
    """

    def __init__(
        self,
        dynos: Mapping[str, ManagedProcess],
        redis_port: int,
        admin: Any = None,
        interval: float = 0.01,
    ) -> None:
        self.dynos = dict(dynos)
        self.redis_port = redis_port
        self.admin = admin
        self.interval = interval
        self.result = Sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="client-sampler")

    def add(self, label: str, proc: ManagedProcess) -> None:
        """Watch one more dyno from now on (a one-off started mid-measurement)."""
        self.dynos = {**self.dynos, label: proc}

    def sample_once(self) -> None:
        result = self.result
        for label, proc in list(self.dynos.items()):
            per_pid = dyno_clients(proc, self.redis_port)
            total = sum(per_pid.values())
            result.dyno_peak[label] = max(result.dyno_peak.get(label, 0), total)
            busiest = max(per_pid.values(), default=0)
            result.process_peak[label] = max(result.process_peak.get(label, 0), busiest)
        if self.admin is not None:
            with contextlib.suppress(Exception):
                result.server_peak = max(result.server_peak, server_clients(self.admin))
        result.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            time.sleep(self.interval)

    def __enter__(self) -> ClientSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample_once()
