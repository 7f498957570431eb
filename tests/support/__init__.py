"""Test-support package: real processes for the end-to-end tests.

* :mod:`tests.support.ports` -- ``free_port``, ``wait_for_port``.
* :mod:`tests.support.procs` -- ``ManagedProcess``, ``start``, ``ProcessGroup`` (process
  groups, log files, guaranteed cleanup).
* :mod:`tests.support.redis` -- ``RedisServer``, ``redis_server_binary``.
* :mod:`tests.support.tls` -- ``TLSProxy``: ``rediss://`` with a self-signed certificate.
* :mod:`tests.support.ws` -- WebSocket client helpers and ``http_get``.
* :mod:`tests.support.fixtures` -- pytest fixtures ``procs``, ``redis_server``,
  ``redis_factory``, ``tls_redis``.

Nothing is imported here, so importing one module never pulls in pytest, redis-py or
websockets.
"""
