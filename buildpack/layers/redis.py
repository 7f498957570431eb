"""Public path of the Redis layers: see :mod:`buildpack.runtime.layers.redis`."""

from buildpack.runtime.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer

__all__ = ["RedisChannelLayer", "RedisPubSubChannelLayer"]
