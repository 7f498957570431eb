"""Tests of the development tooling: the test-support package (processes, Redis, TLS,
WebSocket clients), the CNB lifecycle emulation, ``uv.lock`` and the slug pins, the bench."""
