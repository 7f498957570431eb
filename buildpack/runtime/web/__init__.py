"""What serves HTTP and WebSockets in the web process, below its launcher.

* :mod:`.engines`: the engine interface (``CHANNELS_WEB_SERVER``), :class:`~.engines.ServerSetup`,
  and the words a stopping engine logs; the engines, each named after its server:
  :mod:`.daphne` (with :mod:`.speedups`) and :mod:`.uvicorn`;
* :mod:`.sockets`: the listening socket, bound first; :mod:`.supervisor`: the pre-fork
  supervisor for ``WEB_CONCURRENCY`` > 1;
* :mod:`.forwarded`: the client address from ``X-Forwarded-For`` (``CHANNELS_PROXY_HOPS``);
  :mod:`.rejections`: why a WebSocket was refused;
* :mod:`.fastpath` and :mod:`.fastpath_rules`: the HTTP fast path
  (``CHANNELS_HTTP_FAST_PATH``); :mod:`.oldconns`: Channels' per-message database clean-up,
  skipped while no connection is open.

The launcher (:mod:`buildpack.runtime.launchers.web`) puts them together.
"""
