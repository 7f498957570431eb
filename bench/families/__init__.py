"""One module per benchmark family; each exposes ``NAME``, ``TITLE`` and ``run(ctx, result)``."""

from __future__ import annotations

from bench.families import (
    boot,
    build,
    exactly_once,
    fanout,
    faults,
    http,
    http_sync,
    jobs,
    memory,
    redis_budget,
    shutdown,
    single,
    ws,
)

FAMILIES = {
    module.NAME: module
    for module in (
        build,
        boot,
        http,
        http_sync,
        ws,
        fanout,
        jobs,
        memory,
        shutdown,
        single,
        exactly_once,
        redis_budget,
        faults,
    )
}
