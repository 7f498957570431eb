"""The server line-up shared by the HTTP and WebSocket families.

Ours on each engine (Daphne, uvicorn) with 1 process, plain Daphne and the profile's peers,
``repeats`` rounds in a rotating order (medians), then ours with WEB_CONCURRENCY=2 on each
engine; each server started on the bench app, loaded by *load* and stopped again; then
throughput and p50/p99 ratios for the comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common import FamilyResult, say
from bench.load import merge_runs
from bench.stack import Context, Server

Load = Callable[[Server], dict[str, Any]]
Comparison = tuple[str, str, str]  # label, subject key, baseline key
Subject = tuple[str, str, dict[str, str]]  # measurement key, server kind, extra dyno env


def load_server(
    ctx: Context,
    family: str,
    kind: str,
    load: Load,
    processes: int = 1,
    suffix: str = "",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start *kind*, run *load* on it, stop it; the load's figures with the server's label."""
    server = ctx.start_server(kind, processes=processes, env=env)
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
    env: dict[str, str] | None = None,
) -> None:
    """One run of *load* on *kind*, recorded as ``measurements[key]`` (or as an error)."""
    try:
        data = load_server(ctx, result.name, kind, load, processes, suffix, env)
        result.measure(key, kind=kind, processes=processes, **data)
    except Exception as exc:
        result.errors.append(f"{key}: {type(exc).__name__}: {exc}")


def interleaved(
    ctx: Context,
    result: FamilyResult,
    servers: list[Subject],
    load: Load,
    rate_key: str,
    suffix: str = "",
) -> None:
    """Each (key, kind, env) of *servers*, ``repeats`` rounds in a rotating order; medians."""
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in servers}
    for rep in range(ctx.profile.repeats):
        shift = rep % len(servers)
        for key, kind, env in servers[shift:] + servers[:shift]:
            try:
                runs[key].append(load_server(ctx, result.name, kind, load, suffix=suffix, env=env))
            except Exception as exc:
                result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
    for key, kind, _ in servers:
        if runs[key]:
            result.measure(key, kind=kind, processes=1, **merge_runs(runs[key], rate_key))


ENGINE_KEYS = (("ours_1", "ours", "daphne"), ("ours_uvicorn_1", "ours_uvicorn", "uvicorn"))


def measure_servers(
    ctx: Context, result: FamilyResult, load: Load, rate_key: str, suffix: str = ""
) -> list[Comparison]:
    """Run the line-up; return the comparisons: each engine of ours vs plain Daphne, vs
    every peer and vs the fastest peer of the run, and WEB_CONCURRENCY=2 vs 1."""
    singles: list[Subject] = [(key, kind, {}) for key, kind, _ in ENGINE_KEYS]
    singles += [("daphne", "daphne", {}), *[(p, p, {}) for p in ctx.profile.peers]]
    interleaved(ctx, result, singles, load, rate_key, suffix)
    for key, kind, _ in ENGINE_KEYS:
        measure_server(ctx, result, key[:-1] + "2", kind, load, processes=2, suffix=suffix)
    spread = result.measurements.get("ours_2", {}).get("connections_per_process")
    if spread:
        result.notes.append(
            f"WEB_CONCURRENCY=2: the load's connections were split {spread} between the two "
            "processes (mid-load sample). Both accept on one shared socket, taking turns (one "
            "connection per wake-up, then a 1 ms pause), so a burst of new connections is "
            "split between them."
        )
    comparisons: list[Comparison] = []
    rates = {p: result.measurements.get(p, {}).get(rate_key) for p in ctx.profile.peers}
    measured = [p for p, rate in rates.items() if isinstance(rate, (int, float))]
    fastest = max(measured, key=lambda p: rates[p] or 0.0) if measured else None
    for key, _, engine in ENGINE_KEYS:
        comparisons.append((f"ours ({engine}) vs plain daphne", key, "daphne"))
        comparisons.append((f"ours ({engine}) WEB_CONCURRENCY=2 vs 1", key[:-1] + "2", key))
        comparisons += [(f"ours ({engine}) vs {p}", key, p) for p in ctx.profile.peers]
        if fastest is not None:
            comparisons.append((f"ours ({engine}) vs the fastest peer ({fastest})", key, fastest))
    return comparisons


def add_ratios(
    result: FamilyResult, comparisons: list[Comparison], metric: str, rate_key: str, unit: str
) -> None:
    """Throughput (higher is better), p50/p99 latency and server CPU per request or message
    (lower is better) ratios for each comparison made."""
    for label, subject, baseline in comparisons:
        if subject not in result.measurements or baseline not in result.measurements:
            continue
        result.ratio(label, metric, subject, baseline, key=rate_key, unit=unit)
        result.latency_ratios(label, subject, baseline)
        result.ratio(label, f"server CPU per {unit.partition('/')[0]}", subject, baseline,
                     key="server_cpu_us_per_op", better="lower", unit="µs")  # fmt: skip
