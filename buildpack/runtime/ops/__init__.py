"""Operating a running app: heartbeats, the autoscaling endpoint, what ``status`` and
``doctor`` read.

* :mod:`~buildpack.runtime.ops.heartbeat`: each launcher's small expiring key in the layer's
  Redis;
* :mod:`~buildpack.runtime.ops.layer_state`: read-only views of the layer's keys and servers,
  and one read-only client per shard;
* :mod:`~buildpack.runtime.ops.background_channels`: which background channels an app routes
  and which each worker process type serves;
* :mod:`~buildpack.runtime.ops.autoscale`: ASGI middleware serving queue numbers to
  autoscalers;
* :mod:`~buildpack.runtime.ops.diagnose`: the checks of ``doctor`` that need the app's
  settings.

Everything here only reads the channel layer's keys: nothing is popped, changed or expired.
The commands that print them live in :mod:`buildpack.commands`.
"""
