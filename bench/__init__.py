"""Benchmarks for channels-buildpack: ``python -m bench [--quick] [--only NAME ...] [--out DIR]``.

Everything runs for real on loopback: the apps are built through the real ``bin/*`` scripts
by the platform emulation of ``tests.support.platform``, servers and workers start as dyno
processes, Redis is a real ``redis-server``, load generators are separate processes.
Every figure is reported as a ratio against a baseline measured in the same run; the
absolute numbers are kept in the JSON.

Families (``--only`` names): build, boot, http, http_sync, ws, fanout, jobs, memory, shutdown,
single, exactly_once, redis_budget. See ``bench/README.md`` for what each one measures and
how.
"""
