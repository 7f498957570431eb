"""The run-time package: what runs inside the app's Python on every dyno.

* :mod:`buildpack.runtime.config`: the settings layer (channel layer, database, hosts,
  system checks), applied to every process;
* :mod:`buildpack.runtime.launchers`: ``web``, ``worker`` and ``migrate``;
* :mod:`buildpack.runtime.layers`: the channel layers (public paths: ``buildpack.layers``).
"""
