"""HTTP, issue 21: server CPU per request of a sync view behind Django's default middleware.

``GET /health/`` (a sync view returning ``ok``) with the seven middleware ``startproject``
writes (Security, Session, Common, Csrf, Auth, Messages, Clickjacking), closed-loop
keep-alive load as in the ``http`` family. Servers, interleaved (``repeats`` rounds in a
rotating order, medians): ours on each engine with the HTTP fast path (the default) and
with ``CHANNELS_HTTP_FAST_PATH=off`` (Django's own ASGI path), plain Daphne, the profile's
ASGI peers, and the same app under WSGI (gunicorn gthread, 1 worker, 1 thread: the floor
no ASGI server reaches). Peers keep their defaults plus a 75 s keep-alive (ours has it).

Then the same app with one async-only middleware added (``BENCH_MIDDLEWARE=default+async``):
the fast path does not apply, and that app must not get slower than with the switch off.
The full run adds ``WEB_CONCURRENCY=2`` on each engine. The headline metric is the server's
CPU per request (its whole process tree), which depends less than req/s on how much of the
two shared CPUs the server got.
"""

from __future__ import annotations

from bench.common import FamilyResult
from bench.compare import Comparison, Load, Subject, interleaved, measure_server
from bench.load import http_load
from bench.stack import Context, Server

NAME = "http_sync"
TITLE = "HTTP: sync view behind Django's default middleware, server CPU per request (issue 21)"
PATH = "/health/"
KEEP_ALIVE = {"GUNICORN_CMD_ARGS": "--keep-alive 75", "UVICORN_TIMEOUT_KEEP_ALIVE": "75"}
DEFAULT_APP = {"BENCH_MIDDLEWARE": "default", **KEEP_ALIVE}
ASYNC_APP = {"BENCH_MIDDLEWARE": "default+async", **KEEP_ALIVE}
OFF = {"CHANNELS_HTTP_FAST_PATH": "off"}
ENGINES = (("ours", "daphne"), ("ours_uvicorn", "uvicorn"))
TARGET = 0.40  # issue 21: server CPU per request vs the baseline named in the comparison
CPU = "server_cpu_us_per_op"


def _get(ctx: Context) -> Load:
    def load(server: Server) -> dict[str, object]:
        return http_load(ctx, server, path=PATH)

    return load


def _lineup(prefix: str, app: dict[str, str], peers: tuple[str, ...]) -> list[Subject]:
    """Ours on each engine, fast path on and off, plain Daphne and *peers*, on *app*."""
    subjects: list[Subject] = []
    for kind, _ in ENGINES:
        subjects += [(prefix + kind, kind, app), (f"{prefix}{kind}_off", kind, {**app, **OFF})]
    subjects.append((prefix + "daphne", "daphne", app))
    return subjects + [(prefix + peer, peer, app) for peer in peers]


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    load = _get(ctx)
    peers = (*ctx.profile.peers, "gunicorn_wsgi")
    interleaved(ctx, result, _lineup("", DEFAULT_APP, peers), load, "rps")
    interleaved(ctx, result, _lineup("amw_", ASYNC_APP, ()), load, "rps", " +async mw")
    if ctx.profile.name == "full":
        for kind, _ in ENGINES:
            measure_server(ctx, result, f"{kind}_2", kind, load, processes=2, env=DEFAULT_APP)
    for key, entry in result.measurements.items():
        if key.endswith("_off"):
            entry["label"] = f"{entry.get('label', key)} (fast path off)"
    _ratios(result, _comparisons(ctx, result))
    _notes(ctx, result)


def _fastest_peer(ctx: Context, result: FamilyResult) -> str | None:
    """The ASGI peer with the least server CPU per request in this run."""
    cpu = {p: result.measurements.get(p, {}).get(CPU) for p in ctx.profile.peers}
    measured = {p: v for p, v in cpu.items() if isinstance(v, (int, float))}
    return min(measured, key=measured.__getitem__) if measured else None


def _comparisons(ctx: Context, result: FamilyResult) -> list[Comparison]:
    fastest = _fastest_peer(ctx, result)
    out: list[Comparison] = []
    for kind, engine in ENGINES:
        if fastest is not None:
            out.append((f"ours ({engine}) vs the fastest peer ({fastest})", kind, fastest))
        out.append((f"ours ({engine}) vs plain daphne", kind, "daphne"))
        out.append((f"ours ({engine}) vs WSGI (gunicorn gthread)", kind, "gunicorn_wsgi"))
        out.append((f"ours ({engine}): fast path on vs off", kind, f"{kind}_off"))
        out.append((f"ours ({engine}) +async mw: on vs off", f"amw_{kind}", f"amw_{kind}_off"))
        out.append((f"ours ({engine}) +async mw vs plain daphne", f"amw_{kind}", "amw_daphne"))
        if ctx.profile.name == "full":
            out.append((f"ours ({engine}) WEB_CONCURRENCY=2 vs 1", f"{kind}_2", kind))
    if fastest is not None:
        out.append((f"WSGI (gunicorn gthread) vs the fastest peer ({fastest})", "gunicorn_wsgi",
                    fastest))  # fmt: skip
    return out


def _ratios(result: FamilyResult, comparisons: list[Comparison]) -> None:
    for label, subject, baseline in comparisons:
        if subject not in result.measurements or baseline not in result.measurements:
            continue
        result.ratio(label, "server CPU per req", subject, baseline, key=CPU, better="lower",
                     unit="µs")  # fmt: skip
        result.ratio(label, "req/s", subject, baseline, key="rps", unit="req/s")
        result.ratio(label, "p99 latency", subject, baseline, key="p99_ms", better="lower",
                     unit="ms")  # fmt: skip


def _notes(ctx: Context, result: FamilyResult) -> None:
    fastest = _fastest_peer(ctx, result)
    result.notes.append(
        f"Issue 21 targets: server CPU per request <= {TARGET:.2f}x the fastest ASGI peer's "
        f"({fastest or 'none measured'}) on the uvicorn engine and <= {TARGET:.2f}x plain "
        "Daphne's on the Daphne engine, with the fast path on (the default)."
    )
    result.notes.append(
        "'off' = CHANNELS_HTTP_FAST_PATH=off: Django's own ASGI path (a new thread per request, "
        "a thread round trip per middleware method). '+async mw' = the same app with one "
        "async-only middleware added: the fast path does not apply, Django's path runs on the "
        "pooled request threads."
    )
