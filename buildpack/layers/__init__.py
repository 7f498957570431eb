"""Public import paths of the channel layers (``CHANNEL_LAYERS`` BACKEND values).

The code lives in :mod:`buildpack.runtime.layers`; these names stay stable for settings
that name a backend, e.g. ``"buildpack.layers.redis.RedisChannelLayer"``.
"""
