"""The run-time package: what runs inside the app's Python on every dyno, in layers that
only import downwards (``ARCHITECTURE.md``):

* :mod:`buildpack.runtime.launchers`: ``web``, ``worker`` and ``migrate``;
* :mod:`buildpack.runtime.web`: what serves HTTP and WebSockets (the engines, the listening
  socket, the supervisor, forwarded addresses, the HTTP fast path);
* :mod:`buildpack.runtime.ops`: heartbeats, the autoscaling endpoint, what ``status`` and
  ``doctor`` read;
* :mod:`buildpack.runtime.config`: the settings layer (channel layer, database, hosts,
  system checks), applied to every process;
* :mod:`buildpack.runtime.layers`: the channel layers (public paths: ``buildpack.layers``).
"""
