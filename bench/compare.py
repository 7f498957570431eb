"""The server line-up shared by the HTTP and WebSocket families.

Ours with 1 process vs plain Daphne (``repeats`` interleaved runs, medians), ours with
WEB_CONCURRENCY=2, and the profile's peers, each started on the bench app, loaded by
*load* and stopped again; then throughput and p50/p99 ratios for the comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common import FamilyResult, say
from bench.load import merge_runs
from bench.stack import Context, Server

Load = Callable[[Server], dict[str, Any]]
Comparison = tuple[str, str, str]  # label, subject key, baseline key


def load_server(
    ctx: Context, family: str, kind: str, load: Load, processes: int = 1, suffix: str = ""
) -> dict[str, Any]:
    """Start *kind*, run *load* on it, stop it; the load's figures with the server's label."""
    server = ctx.start_server(kind, processes=processes)
    try:
        label = f"{server.label}{suffix}"
        say(f"{family}: {label}")
        data = load(server)
        if server.balance:  # WEB_CONCURRENCY > 1: the last mid-load sample (warm-up excluded)
            data["connections_per_process"] = server.balance[-1]
        return {"label": label, **data}
    finally:
        server.stop(2)


def measure_server(
    ctx: Context,
    result: FamilyResult,
    key: str,
    kind: str,
    load: Load,
    processes: int = 1,
    suffix: str = "",
) -> None:
    """One run of *load* on *kind*, recorded as ``measurements[key]`` (or as an error)."""
    try:
        data = load_server(ctx, result.name, kind, load, processes, suffix)
        result.measure(key, kind=kind, processes=processes, **data)
    except Exception as exc:
        result.errors.append(f"{key}: {type(exc).__name__}: {exc}")


def _ours_vs_daphne(
    ctx: Context, result: FamilyResult, load: Load, rate_key: str, suffix: str
) -> None:
    """Ours vs plain Daphne, ``repeats`` alternating runs each, medians."""
    runs: dict[str, list[dict[str, Any]]] = {"ours_1": [], "daphne": []}
    pairs = [("ours_1", "ours"), ("daphne", "daphne")]
    try:
        for rep in range(ctx.profile.repeats):
            for key, kind in pairs if rep % 2 == 0 else pairs[::-1]:
                runs[key].append(load_server(ctx, result.name, kind, load, suffix=suffix))
    except Exception as exc:
        result.errors.append(f"ours/daphne: {type(exc).__name__}: {exc}")
    for key, kind in pairs:
        if runs[key]:
            result.measure(key, kind=kind, processes=1, **merge_runs(runs[key], rate_key))


def measure_servers(
    ctx: Context, result: FamilyResult, load: Load, rate_key: str, suffix: str = ""
) -> list[Comparison]:
    """Run the line-up; return the standard comparisons (ours vs Daphne, 2 vs 1, peers)."""
    _ours_vs_daphne(ctx, result, load, rate_key, suffix)
    measure_server(ctx, result, "ours_2", "ours", load, processes=2, suffix=suffix)
    spread = result.measurements.get("ours_2", {}).get("connections_per_process")
    if spread:
        result.notes.append(
            f"WEB_CONCURRENCY=2: the load's connections were split {spread} between the two "
            "processes (mid-load sample). Both accept on one shared socket, taking turns (one "
            "connection per wake-up, then a 1 ms pause), so a burst of new connections is "
            "split between them."
        )
    for peer in ctx.profile.peers:
        measure_server(ctx, result, peer, peer, load, suffix=suffix)
    return [
        ("ours 1 proc vs plain daphne", "ours_1", "daphne"),
        ("ours WEB_CONCURRENCY=2 vs 1", "ours_2", "ours_1"),
        *[(f"ours 1 proc vs {p}", "ours_1", p) for p in ctx.profile.peers],
    ]


def add_ratios(
    result: FamilyResult, comparisons: list[Comparison], metric: str, rate_key: str, unit: str
) -> None:
    """Throughput (higher is better) and p50/p99 latency ratios for each comparison made."""
    for label, subject, baseline in comparisons:
        if subject not in result.measurements or baseline not in result.measurements:
            continue
        result.ratio(label, metric, subject, baseline, key=rate_key, unit=unit)
        result.latency_ratios(label, subject, baseline)
