"""pytest fixtures over :mod:`tests.support`. Register with
``pytest_plugins = ["tests.support.fixtures"]`` (in the root ``conftest.py`` or a test module).

All fixtures are function-scoped: every test gets fresh processes, and everything is
stopped at teardown even if the test failed or was interrupted by pytest-timeout's
(default, signal-based) timeout. Logs go under the test's ``tmp_path / "logs"``, which
pytest keeps for the last few runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.tls import TLSProxy

__all__ = ["RedisFactory", "procs", "redis_factory", "redis_server", "tls_redis"]


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessGroup]:
    """A :class:`ProcessGroup`: ``procs.start(cmd, ...)`` processes are stopped (group-wide,
    newest first) at teardown."""
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running :class:`RedisServer` on a free port; stopped at teardown."""
    server = RedisServer(log_dir=tmp_path / "logs")
    try:
        yield server.start()
    finally:
        server.stop()


class RedisFactory:
    """``factory(**kwargs)`` starts one more :class:`RedisServer` (kwargs as for its
    constructor, e.g. ``password=``); ``factory.many(n)`` starts ``n``. All are stopped by
    :meth:`stop_all` (the fixture's teardown)."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.servers: list[RedisServer] = []

    def __call__(self, **kwargs: Any) -> RedisServer:
        kwargs.setdefault("log_dir", self.log_dir)
        server = RedisServer(**kwargs)
        self.servers.append(server)
        return server.start()

    def many(self, count: int, **kwargs: Any) -> list[RedisServer]:
        return [self(**kwargs) for _ in range(count)]

    def stop_all(self) -> None:
        first_error: BaseException | None = None
        while self.servers:
            try:
                self.servers.pop().stop()
            except BaseException as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[RedisFactory]:
    """A :class:`RedisFactory` for tests needing several (or password-protected) servers."""
    factory = RedisFactory(log_dir=tmp_path / "logs")
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TLSProxy]:
    """A :class:`TLSProxy` (``rediss://``, self-signed) in front of a fresh
    :class:`RedisServer`, reachable as ``tls_redis.backend``. Both stopped at teardown."""
    server = RedisServer(log_dir=tmp_path / "logs")
    try:
        server.start()
        proxy = TLSProxy(server, cert_dir=tmp_path / "tls", log_dir=tmp_path / "logs")
        try:
            yield proxy.start()
        finally:
            proxy.stop()
    finally:
        server.stop()
