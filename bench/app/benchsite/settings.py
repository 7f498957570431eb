"""Settings of the benchmark app: a normal Channels project, nothing benchmark-specific.

``CHANNEL_LAYERS`` is written the way most projects write it: the stock channels_redis
core layer when ``REDIS_URL`` is set, the stock in-memory layer otherwise. Deployed with
the buildpack's settings layer on, those become the buildpack's own layers; with
``CHANNELS_BUILDPACK_SETTINGS=off`` they stay stock (what ``manage.py runworker`` uses in
the "stock path" measurements).
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-app-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = ["channels"]  # provides manage.py runworker
MIDDLEWARE: list[str] = []
# The http_sync family: BENCH_MIDDLEWARE=default is the middleware startproject writes (and
# the apps it needs); default+async adds one async-only middleware after them.
if os.environ.get("BENCH_MIDDLEWARE", "").startswith("default"):
    INSTALLED_APPS += [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ]
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]
    if os.environ["BENCH_MIDDLEWARE"] == "default+async":
        MIDDLEWARE.append("benchsite.middleware.AsyncPassThrough")
ROOT_URLCONF = "benchsite.urls"
ASGI_APPLICATION = "benchsite.asgi.application"
DATABASES: dict = {}
USE_TZ = True

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": int(os.environ.get("CHANNELS_CAPACITY", "100")),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Show runworker's "Running worker for channels [...]" line (the bench waits for it).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.channels.worker": {"handlers": ["console"], "level": "INFO"}},
}
