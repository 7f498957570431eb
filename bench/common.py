"""Shared pieces: run profiles, the run context, results, statistics, CPU accounting."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH_APP = REPO / "bench" / "app"
FIXTURES = REPO / "tests" / "fixtures"
CLIENT_BOUND = 0.9  # a load generator process above 0.9 core is the bottleneck itself


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """How much of everything a run does (``full``, ``quick``, or ``tiny`` for the test)."""

    name: str
    detect_runs: int
    detect_files: int
    build_fixtures: tuple[str, ...] | None  # None = every fixture that compiles
    boot_runs: int
    http_seconds: float
    http_connections: int
    warmup_seconds: float
    ws_seconds: float
    ws_procs: int
    ws_conns_per_proc: int
    peers: tuple[str, ...]
    fanout_sockets: int
    fanout_sends: int
    single_fanout_sockets: int
    single_fanout_sends: int
    jobs_instant: int
    jobs_io: int
    jobs_procs: tuple[int, ...]
    memory_steps: tuple[int, ...]
    shutdown_sockets: int
    shutdown_prefork: bool
    repeats: int  # interleaved runs of ours vs plain Daphne (HTTP, WS); medians reported
    eo_messages: int
    eo_idle_seconds: float
    budget_jobs: int  # redis_budget: jobs sent through the 20-client formation
    budget_sockets: int  # ... WebSocket clients per web dyno
    budget_concurrency: tuple[int, ...]  # ... our worker's concurrency, one run each
    budget_table: bool  # ... also measure Redis clients per process type
    faults: tuple[str, ...]  # faults: the scenarios run against ours and stock (issue 20)


FULL = Profile(
    name="full",
    detect_runs=7,
    detect_files=20_000,
    build_fixtures=None,
    boot_runs=7,
    http_seconds=6.0,
    http_connections=32,
    warmup_seconds=1.0,
    ws_seconds=6.0,
    ws_procs=2,
    ws_conns_per_proc=16,
    peers=("gunicorn", "uvicorn", "uvicorn_std"),
    fanout_sockets=1000,
    fanout_sends=200,
    single_fanout_sockets=1000,
    single_fanout_sends=50,
    jobs_instant=1000,
    jobs_io=160,
    jobs_procs=(1, 4),
    memory_steps=(0, 1000, 5000),
    shutdown_sockets=1000,
    shutdown_prefork=True,
    repeats=3,
    eo_messages=1000,
    eo_idle_seconds=8.0,
    budget_jobs=1000,
    budget_sockets=20,
    budget_concurrency=(1, 8),
    budget_table=True,
    faults=("stall", "restart", "kill", "full", "dropped_reply"),
)
QUICK = Profile(
    name="quick",
    detect_runs=2,
    detect_files=20_000,
    build_fixtures=("tutorial",),
    boot_runs=2,
    http_seconds=1.0,
    http_connections=32,
    warmup_seconds=0.5,
    ws_seconds=1.0,
    ws_procs=2,
    ws_conns_per_proc=8,
    peers=("uvicorn",),
    fanout_sockets=200,
    fanout_sends=20,
    single_fanout_sockets=100,
    single_fanout_sends=5,
    jobs_instant=200,
    jobs_io=40,
    jobs_procs=(4,),
    memory_steps=(0, 300, 1000),
    shutdown_sockets=200,
    shutdown_prefork=False,
    repeats=1,
    eo_messages=400,
    eo_idle_seconds=8.0,
    budget_jobs=400,
    budget_sockets=10,
    budget_concurrency=(1,),
    budget_table=False,
    faults=("restart", "stall", "dropped_reply"),
)
TINY = Profile(
    name="tiny",
    detect_runs=2,
    detect_files=2_000,
    build_fixtures=("tutorial",),
    boot_runs=2,
    http_seconds=1.0,
    http_connections=8,
    warmup_seconds=0.2,
    ws_seconds=1.0,
    ws_procs=1,
    ws_conns_per_proc=4,
    peers=("uvicorn",),
    fanout_sockets=40,
    fanout_sends=5,
    single_fanout_sockets=40,
    single_fanout_sends=5,
    jobs_instant=50,
    jobs_io=16,
    jobs_procs=(1,),
    memory_steps=(0, 50, 150),
    shutdown_sockets=40,
    shutdown_prefork=False,
    repeats=1,
    eo_messages=100,
    eo_idle_seconds=6.5,
    budget_jobs=100,
    budget_sockets=5,
    budget_concurrency=(1,),
    budget_table=False,
    faults=("dropped_reply",),
)
PROFILES = {p.name: p for p in (FULL, QUICK, TINY)}


# --------------------------------------------------------------------------- statistics


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return float(data[low] + (data[high] - data[low]) * (pos - low))


def median(values: Iterable[float]) -> float:
    data = [v for v in values if v is not None and not math.isnan(v)]
    return float(statistics.median(data)) if data else math.nan


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def rounded(value: Any, digits: int = 4) -> Any:
    """Round floats for the JSON (NaN/inf become None: JSON has no such numbers)."""
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


# --------------------------------------------------------------------------- CPU accounting


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (those that exist right now)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(procs: Iterable[psutil.Process]) -> dict[int, float]:
    """user+system CPU seconds per pid (processes that vanished are left out)."""
    out = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
    return out


class CpuWindow:
    """CPU used by some process trees between :meth:`begin` and :meth:`end`.

    ``per_process`` maps pid -> cores (CPU seconds / wall seconds) over the window, so a
    load generator process at ~1.0 is saturating one core.
    """

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self._start: dict[int, float] = {}
        self._procs: dict[int, psutil.Process] = {}
        self._t0 = 0.0
        self.wall = 0.0
        self.per_process: dict[int, float] = {}

    def _collect(self) -> list[psutil.Process]:
        for root in self._pids():
            for proc in process_tree(root):
                self._procs.setdefault(proc.pid, proc)
        return list(self._procs.values())

    def begin(self) -> None:
        self._t0 = time.monotonic()
        self._start = cpu_seconds(self._collect())

    def end(self) -> CpuWindow:
        now = cpu_seconds(self._collect())
        self.wall = max(1e-9, time.monotonic() - self._t0)
        self.per_process = {
            pid: max(0.0, (now[pid] - self._start.get(pid, 0.0)) / self.wall) for pid in now
        }
        return self

    @property
    def total(self) -> float:
        return sum(self.per_process.values())

    @property
    def busiest(self) -> float:
        return max(self.per_process.values(), default=0.0)


def client_summary(tool: str, window: CpuWindow, threads_per_process: int = 1) -> dict[str, Any]:
    """How hard the load generator worked; ``client_bound`` if one of its cores was saturated."""
    busiest = window.busiest / max(1, threads_per_process)
    return {
        "tool": tool,
        "processes": len(window.per_process),
        "cpu_cores_total": window.total,
        "cpu_busiest_process": busiest,
        "client_bound": busiest > CLIENT_BOUND,
    }


# --------------------------------------------------------------------------- results


@dataclass
class Ratio:
    """One comparison: subject / baseline for a metric measured in this run."""

    comparison: str
    metric: str
    unit: str
    subject: str
    baseline: str
    subject_value: float
    baseline_value: float
    better: str  # "higher" or "lower"
    ratio: float
    client_bound: bool = False
    note: str = ""

    @property
    def favourable(self) -> bool:
        return self.ratio >= 1.0 if self.better == "higher" else self.ratio <= 1.0


@dataclass
class FamilyResult:
    """Everything one benchmark family produced."""

    name: str
    title: str
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def measure(self, key: str, **values: Any) -> dict[str, Any]:
        entry = self.measurements.setdefault(key, {})
        entry.update(values)
        return entry

    def ratio(
        self,
        comparison: str,
        metric: str,
        subject: str,
        baseline: str,
        *,
        key: str | None = None,
        better: str = "higher",
        unit: str = "",
        note: str = "",
    ) -> Ratio | None:
        """Add subject/baseline for ``measurements[x][key or metric]`` (skipped if undefined)."""
        field_name = key or metric
        s = self.measurements.get(subject, {}).get(field_name)
        b = self.measurements.get(baseline, {}).get(field_name)
        if not (finite(s) and finite(b)) or b == 0:
            self.notes.append(f"{comparison} ({metric}): no ratio (subject {s!r}, baseline {b!r})")
            return None
        bound = bool(
            self.measurements[subject].get("client", {}).get("client_bound")
            or self.measurements[baseline].get("client", {}).get("client_bound")
        )
        item = Ratio(
            comparison,
            metric,
            unit,
            subject,
            baseline,
            float(s),
            float(b),
            better,
            s / b,
            bound,
            note,
        )
        self.ratios.append(item)
        return item

    def latency_ratios(self, comparison: str, subject: str, baseline: str) -> None:
        """p50 and p99 latency ratios (lower is better) from ``p50_ms``/``p99_ms``."""
        for percentile in ("p50", "p99"):
            self.ratio(
                comparison, f"{percentile} latency", subject, baseline,
                key=f"{percentile}_ms", better="lower", unit="ms",
            )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return rounded(
            {
                "name": self.name,
                "title": self.title,
                "seconds": self.seconds,
                "measurements": self.measurements,
                "ratios": [asdict(r) for r in self.ratios],
                "notes": self.notes,
                "errors": self.errors,
            }
        )


# --------------------------------------------------------------------------- logging


def say(message: str) -> None:
    """Progress on stderr (the results go to files)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def elapsed() -> Iterator[Callable[[], float]]:
    start = time.monotonic()
    yield lambda: time.monotonic() - start


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to the hard limit (clients hold many sockets)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
