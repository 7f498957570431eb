"""Operating a running app: heartbeats, the autoscaling endpoint, ``status``, live checks.

* :mod:`~buildpack.runtime.ops.heartbeat`: each launcher's small expiring key in the layer's Redis;
* :mod:`~buildpack.runtime.ops.layer_state`: read-only views of the layer's keys and servers;
* :mod:`~buildpack.runtime.ops.autoscale`: ASGI middleware serving queue numbers to autoscalers;
* :mod:`~buildpack.commands.status`: ``channels-buildpack status``;
* :mod:`~buildpack.runtime.ops.diagnose`: the checks of ``doctor`` that need the app's settings.

Everything here only reads the channel layer's keys: nothing is popped, changed or expired.
"""
