"""Run channels_redis's own test suites against our layers, in a pytest subprocess.

The test files come from the sdist of the *installed* channels_redis version, downloaded
with pip at test time (cached under ``.cache/upstream-sdists/``, never committed) and
changed in exactly one way: the import of the stock layer class becomes an import of ours
(:data:`IMPORT_SWAPS`; a run fails if the stock import line is not found). They run with the
sdist's own pytest configuration (``setup.cfg``: ``asyncio_mode = auto``, ``timeout = 10``)
plus :mod:`tests.support.upstream_plugin`, which

* points ``localhost:6379`` (the address the suites hard-code, and channels_redis's default)
  at the test's ``redis-server``, keeping the database number;
* marks the tests in :data:`EXPECTED_DIFFERENCES` as strict ``xfail`` with the reason;
* checks that the swapped modules really use our classes, and records each test's outcome
  as pytest's terminal summary counts it (``passed``, ``xpassed``, ``failed``, ...).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import REPO as ROOT

CACHE = ROOT / ".cache" / "upstream-sdists"
PLUGIN = "tests.support.upstream_plugin"
DOWNLOAD_TIMEOUT = 300.0
RUN_TIMEOUT = 240.0

# suite file -> (the stock import line, the line(s) replacing it)
IMPORT_SWAPS = {
    "test_core.py": (
        "from channels_redis.core import ChannelFull, RedisChannelLayer\n",
        "from channels_redis.core import ChannelFull\n"
        "from buildpack.layers.redis import RedisChannelLayer\n",
    ),
    "test_pubsub.py": (
        "from channels_redis.pubsub import RedisPubSubChannelLayer\n",
        "from buildpack.layers.redis import RedisPubSubChannelLayer\n",
    ),
}


@dataclass(frozen=True)
class ExpectedDifference:
    """An upstream test that fails against our layer on purpose."""

    reason: str
    error: str  # the failure must contain this, so no other failure passes for this one


# The one place where an upstream test may fail against our layers, and why.
EXPECTED_DIFFERENCES = {
    "test_pubsub.py::test_receive_on_non_owned_general_channel": ExpectedDifference(
        reason="it sends a str, not a dict, on a general channel. The channel layer "
        "specification says messages are dicts; stock pub/sub publishes anything, but our "
        "pub/sub layer queues general (background) channels exactly-once like the core layer, "
        "which asserts a dict as stock core does: a send that works with CHANNELS_LAYER=pubsub "
        "works with the default core layer too, and a worker never gets a message without "
        "a 'type'.",
        error="AssertionError: message is not a dict",
    ),
}


class UpstreamUnavailable(Exception):
    """The sdist cannot be downloaded (offline, index unreachable, version not published)."""


@dataclass
class SuiteResult:
    """Outcomes of one upstream suite: pytest's categories per test node id."""

    suite: str
    version: str
    outcomes: dict[str, list[str]]
    expected_failures: dict[str, str]  # node id of a marked difference -> how it failed
    returncode: int
    output: str
    counts: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = Counter(c for categories in self.outcomes.values() for c in categories)

    def with_category(self, category: str) -> list[str]:
        return sorted(n for n, cats in self.outcomes.items() if category in cats)

    def describe(self) -> str:
        counts = ", ".join(f"{n} {c}" for c, n in sorted(self.counts.items()))
        return (
            f"channels_redis {self.version} tests/{self.suite} against our layer: {counts} "
            f"(exit code {self.returncode})\n--- pytest output (tail) ---\n{self.output[-6000:]}"
        )


def installed_version(distribution: str = "channels-redis") -> str:
    return importlib.metadata.version(distribution)


def sdist(version: str, cache: Path = CACHE) -> Path:
    """The channels_redis *version* sdist, from *cache* or downloaded there with pip."""
    cached = cache / f"channels_redis-{version}.tar.gz"
    if cached.is_file():
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    download = Path(tempfile.mkdtemp(prefix="download-", dir=cache))
    try:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--retries", "2", "--timeout", "20", "--dest", str(download),
            f"channels-redis=={version}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise UpstreamUnavailable(f"pip download timed out after {exc.timeout:g} s") from exc
        files = sorted(download.glob("*.tar.gz"))
        if done.returncode != 0 or len(files) != 1:
            errors = [line for line in done.stderr.splitlines() if "is ignored" not in line]
            raise UpstreamUnavailable(
                f"`pip download channels-redis=={version}` (sdist) failed "
                f"(exit code {done.returncode}): {' | '.join(errors[-3:])}"
            )
        os.replace(files[0], cached)  # atomic: a concurrent run sees all or nothing
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return cached


def prepare(archive: Path, suite: str, workdir: Path) -> Path:
    """Extract the sdist's ``setup.cfg`` and ``tests/<suite>`` with the import swapped.

    Returns the directory to run pytest in (the sdist's layout, without its package).
    """
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        config = _read_member(tar, f"{top}/setup.cfg")
        source = _read_member(tar, f"{top}/tests/{suite}")
    project = workdir / top
    (project / "tests").mkdir(parents=True)
    (project / "setup.cfg").write_text(config)
    stock, ours = IMPORT_SWAPS[suite]
    if source.count(stock) != 1:
        raise AssertionError(f"tests/{suite} in {archive.name} no longer has {stock.strip()!r}")
    (project / "tests" / suite).write_text(source.replace(stock, ours))
    return project


def _read_member(tar: tarfile.TarFile, name: str) -> str:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise AssertionError(f"{name} is not a file in the sdist")
    with member:
        return member.read().decode()


def run_suite(suite: str, redis_address: str, workdir: Path) -> SuiteResult:
    """Run channels_redis's ``tests/<suite>`` against our layers and a Redis at *address*.

    Raises :class:`UpstreamUnavailable` when the sdist cannot be downloaded.
    """
    version = installed_version()
    project = prepare(sdist(version), suite, workdir)
    outcomes_file = workdir / "outcomes.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CHANNELS_BUILDPACK_SETTINGS", "DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"}
    }
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        UPSTREAM_REDIS_ADDRESS=redis_address,
        UPSTREAM_OUTCOMES=str(outcomes_file),
    )
    command = [
        sys.executable, "-m", "pytest", "-c", "setup.cfg", "--rootdir", ".",
        "-p", PLUGIN, "-p", "no:cacheprovider", "-rA", f"tests/{suite}",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, output = -1, f"timed out after {RUN_TIMEOUT:g} s\n{_text(exc.stdout)}"
    recorded: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError):
        recorded = json.loads(outcomes_file.read_text())
    return SuiteResult(
        suite=suite,
        version=version,
        outcomes=recorded.get("outcomes", {}),
        expected_failures=recorded.get("expected_failures", {}),
        returncode=returncode,
        output=output,
    )


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
