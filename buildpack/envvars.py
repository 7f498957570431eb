"""Every environment variable (config var) channels-buildpack reads: its name, its default,
how its value is read, and what a bad value says.

The one owner of each variable. The settings layer, the launchers, the system checks, the
operating commands and the build ask here (``envvars.shutdown_timeout(environ)``,
``envvars.DYNO.value(environ)``) instead of reading a variable by its name; a test fails on
a declared variable read by its literal name anywhere else, and on a ``CHANNELS_*``
variable read without a declaration. :mod:`buildpack.redact` shows in clear only the values
of the variables declared ``public``; every other value may be a secret.

A URL or a list (``REDIS_URL``, ``CHANNELS_REDIS_URLS``, ``DJANGO_ALLOWED_HOSTS``...) is
declared here and parsed by its one reader, which its declaration names. A bad value raises
:class:`~buildpack.messages.ConfigError` (its text in :mod:`buildpack.messages`), or, where
a bad value must stop nothing (a system check, a start-up hint), the reader says so and falls
back to the default. ``channels_buildpack.pth`` is the one place that reads
``CHANNELS_BUILDPACK_SETTINGS`` itself: its one line runs at every interpreter start, before
anything can be imported; a test keeps its yes-words equal to :data:`TRUE`.

Standard library only: the build imports this before anything is installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from buildpack import messages
from buildpack.messages import ConfigError

T = TypeVar("T")
Environ = Mapping[str, str]
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class Variable(Generic[T]):
    """A declared variable: its *name*, its *default*, whether its value is *public* (never a
    secret: shown in clear in logs), and who reads it (*read_by*)."""

    __slots__ = ("default", "name", "public", "read_by")

    def __init__(self, name: str, default: T, public: bool = False, read_by: str = "") -> None:
        self.name = name
        self.default = default
        self.public = public
        self.read_by = read_by

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, default={self.default!r})"

    def raw(self, environ: Environ | None = None) -> str | None:
        """The value as set (None when unset)."""
        return _environ(environ).get(self.name)

    def value(self, environ: Environ | None = None) -> str:
        """The value without surrounding blanks; ``""`` when unset."""
        return _environ(environ).get(self.name, "").strip()


REGISTRY: dict[str, Variable[object]] = {}


def declare(name: str, default: T, *, public: bool = False, read_by: str = "") -> Variable[T]:
    """Declare *name* (once)."""
    variable = Variable(name, default, public, read_by)
    assert name not in REGISTRY, f"{name} declared twice"
    REGISTRY[name] = variable  # type: ignore[assignment]
    return variable


def _environ(environ: Environ | None) -> Environ:
    return os.environ if environ is None else environ


# -- the platform -------------------------------------------------------------------------

DYNO = declare("DYNO", "", public=True)  # web.1, worker.2, run.3...: set on Heroku dynos
PORT = declare("PORT", 8000, public=True)  # the web process binds it
WEB_CONCURRENCY = declare("WEB_CONCURRENCY", 1, public=True)  # web processes per dyno
HOME = declare("HOME", "", read_by="runtime.layers.formation (the app root on a dyno)")
APP_HOST = declare("HEROKU_APP_DEFAULT_DOMAIN_NAME", "", read_by="config.hosts, config.checks")
PYTHONUNBUFFERED = declare("PYTHONUNBUFFERED", "1", public=True, read_by="templates/profile.sh")
LOCAL_MANAGERS = (  # set by local process managers, which stop everything when one exits
    declare("HONCHO_PROCESS_NAME", ""),
    declare("FOREMAN_WORKER_NAME", ""),
)
GUNICORN_CMD_ARGS = declare("GUNICORN_CMD_ARGS", "", read_by="runtime.config.database")
ASGI_THREADS = declare("ASGI_THREADS", "", read_by="runtime.web.speedups (Daphne's own)")


def on_dyno(environ: Environ | None = None) -> bool:
    """Whether this process runs on a dyno (``DYNO`` set)."""
    return bool(_environ(environ).get(DYNO.name))


def dyno_kind_and_index(environ: Environ | None = None) -> tuple[str, str]:
    """``("worker", "2")`` for ``DYNO=worker.2``; ``("", "")`` off a dyno."""
    kind, _, index = _environ(environ).get(DYNO.name, "").partition(".")
    return kind, index


def local_process_manager(environ: Environ | None = None) -> bool:
    """Whether honcho or foreman started this process."""
    return any(variable.raw(environ) for variable in LOCAL_MANAGERS)


# -- the settings layer -------------------------------------------------------------------

SETTINGS = declare("CHANNELS_BUILDPACK_SETTINGS", "on", public=True)
QUIET = declare("CHANNELS_BUILDPACK_QUIET", "")  # 1: no settings line (the launchers' children)
SERVER = declare("CHANNELS_BUILDPACK_SERVER", "")  # asgi or wsgi: what this process serves
SETTINGS_MODULE = declare("DJANGO_SETTINGS_MODULE", "", public=True)
ALLOWED_HOSTS = declare("DJANGO_ALLOWED_HOSTS", "", public=True, read_by="config.hosts")
CSRF_ORIGINS = declare("DJANGO_CSRF_TRUSTED_ORIGINS", "", public=True, read_by="config.hosts")
DATABASE_URL = declare("DATABASE_URL", "", read_by="runtime.config.database")


def settings_enabled(environ: Environ | None = None) -> bool:
    """``CHANNELS_BUILDPACK_SETTINGS``: on unless it says off (``0``, ``false``, ``no``)."""
    return switch(SETTINGS, True, environ)


def quiet(environ: Environ | None = None) -> bool:
    """``CHANNELS_BUILDPACK_QUIET``: off unless set to something other than off."""
    return switch(QUIET, False, environ)


def declared_server(environ: Environ | None = None) -> str:
    """``CHANNELS_BUILDPACK_SERVER`` exactly as set (``""`` when unset)."""
    return SERVER.raw(environ) or ""


# -- the channel layer --------------------------------------------------------------------

LAYER = declare("CHANNELS_LAYER", "auto", public=True)
LAYER_CHOICES = ("auto", "core", "redis", "pubsub", "memory", "rabbitmq", "keep")
REDIS_URLS = declare("CHANNELS_REDIS_URLS", "", public=True, read_by="config.layer_config")
REDIS_URL = declare("REDIS_URL", "", read_by="runtime.config.layer_config")
AMQP_URLS = (
    declare("CLOUDAMQP_URL", "", read_by="runtime.config.layer_config"),
    declare("RABBITMQ_URL", "", read_by="runtime.config.layer_config"),
)
TLS_VERIFY = declare("CHANNELS_REDIS_TLS_VERIFY", "auto", public=True)
CAPACITY = declare("CHANNELS_CAPACITY", 100)
EXPIRY = declare("CHANNELS_EXPIRY", 60)
GROUP_EXPIRY = declare("CHANNELS_GROUP_EXPIRY", 86400)
# The layer options they set, by option name (channels_redis's "capacity", ...).
TUNABLES = {"capacity": CAPACITY, "expiry": EXPIRY, "group_expiry": GROUP_EXPIRY}
# Redis clients one process may hold per host, its reader included (the layer's budget).
REDIS_MAX_CONNECTIONS = declare("CHANNELS_REDIS_MAX_CONNECTIONS", 3)
REDIS_MAXCLIENTS = declare("CHANNELS_REDIS_MAXCLIENTS", 0)  # the plan's limit, for check W007


def layer_choice(environ: Environ | None = None) -> str:
    """``CHANNELS_LAYER``, lower case (default ``auto``); ConfigError for another word."""
    choice = LAYER.value(environ).lower() or LAYER.default
    if choice not in LAYER_CHOICES:
        raise ConfigError(messages.LAYER_UNKNOWN, choice=choice, accepted=", ".join(LAYER_CHOICES))
    return choice


def tls_verify(environ: Environ | None = None, *, strict: bool = True) -> bool | None:
    """``CHANNELS_REDIS_TLS_VERIFY``: True, False, or None for ``auto`` (the default)."""
    return flag(TLS_VERIFY, environ, strict=strict)


def redis_max_connections(environ: Environ | None = None) -> int | None:
    """``CHANNELS_REDIS_MAX_CONNECTIONS`` when set (ConfigError unless a positive number)."""
    if not REDIS_MAX_CONNECTIONS.value(environ):
        return None
    return positive_number(REDIS_MAX_CONNECTIONS, environ)


def redis_budget(environ: Environ | None = None) -> int:
    """The per-process client budget for arithmetic that must not fail: the variable as a
    whole number, else the default."""
    return whole_number(REDIS_MAX_CONNECTIONS, environ)


def redis_maxclients(environ: Environ | None = None) -> int | None:
    """``CHANNELS_REDIS_MAXCLIENTS`` when it is a positive number (a system check: never
    fails)."""
    raw = REDIS_MAXCLIENTS.value(environ)
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


# -- the processes ------------------------------------------------------------------------

WEB_SERVER = declare("CHANNELS_WEB_SERVER", "daphne")
WEB_SERVERS = ("daphne", "uvicorn")  # the engines, runtime.web.<name>
HTTP_FAST_PATH = declare("CHANNELS_HTTP_FAST_PATH", "on")
PROXY_HOPS = declare("CHANNELS_PROXY_HOPS", 1)
SHUTDOWN_TIMEOUT = declare("CHANNELS_SHUTDOWN_TIMEOUT", 25.0)
WORKER_CONCURRENCY = declare("CHANNELS_WORKER_CONCURRENCY", 1)
HEARTBEAT_SECONDS = declare("CHANNELS_HEARTBEAT_SECONDS", 10.0)
METRICS_TOKEN = declare("CHANNELS_METRICS_TOKEN", "")
HIREFIRE_TOKEN = declare("HIREFIRE_TOKEN", "")
HIREFIRE_METRIC = declare("CHANNELS_HIREFIRE_METRIC", "depth")  # or latency


def web_server(environ: Environ | None = None) -> str:
    """``CHANNELS_WEB_SERVER``, one of :data:`WEB_SERVERS` (default Daphne); ConfigError
    otherwise."""
    raw = WEB_SERVER.value(environ)
    name = raw.lower() or WEB_SERVER.default
    if name not in WEB_SERVERS:
        raise ConfigError(messages.WEB_SERVER_UNKNOWN, value=raw, accepted=", ".join(WEB_SERVERS))
    return name


def web_server_named(config_vars: Environ) -> str:
    """The engine the build's config vars name, as written (lower case; ``""`` when unset):
    the build installs its packages, the web process checks the name."""
    return WEB_SERVER.value(config_vars).lower()


def http_fast_path(environ: Environ | None = None) -> bool:
    """``CHANNELS_HTTP_FAST_PATH`` (default on); ConfigError for a value not yes/no/auto."""
    return flag(HTTP_FAST_PATH, environ) is not False


def proxy_hops(environ: Environ | None = None) -> int | None:
    """``CHANNELS_PROXY_HOPS`` (default 1; below 0 counts as 0); None when it is set to
    something that is not a whole number."""
    raw = PROXY_HOPS.value(environ)
    try:
        return max(int(raw), 0) if raw else PROXY_HOPS.default
    except ValueError:
        return None


def shutdown_timeout(environ: Environ | None = None) -> float:
    """Seconds allowed for a graceful stop (Heroku sends SIGKILL 30 s after SIGTERM); the
    default for anything but a positive number."""
    raw = SHUTDOWN_TIMEOUT.value(environ)
    try:
        value = float(raw) if raw else SHUTDOWN_TIMEOUT.default
    except ValueError:
        value = SHUTDOWN_TIMEOUT.default
    return value if value > 0 else SHUTDOWN_TIMEOUT.default


def worker_concurrency(environ: Environ | None = None) -> int:
    """``CHANNELS_WORKER_CONCURRENCY``: consumer instances per channel, at least 1 (the
    default for anything but a whole number)."""
    raw = WORKER_CONCURRENCY.value(environ)
    return max(1, int(raw)) if raw.isdigit() else WORKER_CONCURRENCY.default


def heartbeat_seconds(environ: Environ | None = None) -> float:
    """Seconds between heartbeats (``0``: off; the default for what is not a number)."""
    raw = HEARTBEAT_SECONDS.value(environ)
    try:
        value = float(raw) if raw else HEARTBEAT_SECONDS.default
    except ValueError:
        return HEARTBEAT_SECONDS.default
    return max(value, 0.0)


def hirefire_latency(environ: Environ | None = None) -> bool:
    """Whether HireFire gets the oldest message's age (``CHANNELS_HIREFIRE_METRIC=latency``)
    instead of the depth."""
    return (HIREFIRE_METRIC.value(environ).lower() or HIREFIRE_METRIC.default) == "latency"


# -- the build ----------------------------------------------------------------------------

REDIS_ADDON = declare("CHANNELS_BUILDPACK_REDIS_ADDON", "true", public=True)


def redis_addon_wanted(config_vars: Environ) -> bool:
    """``CHANNELS_BUILDPACK_REDIS_ADDON``: bin/release requests Redis unless it says off."""
    return switch(REDIS_ADDON, True, config_vars)


# -- how values are read ------------------------------------------------------------------


def switch(variable: Variable[str], default: bool, environ: Environ | None = None) -> bool:
    """On or off: *default* when unset or blank, off for a word of :data:`FALSE`, else on."""
    value = variable.value(environ).lower()
    return default if not value else value not in FALSE


def flag(
    variable: Variable[str], environ: Environ | None = None, *, strict: bool = True
) -> bool | None:
    """Yes or no: True, False, or None when unset or ``auto``. Another word raises
    ConfigError (with *strict* off: None)."""
    value = variable.value(environ).lower()
    if value in ("", "auto"):
        return None
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    if strict:
        raise ConfigError(messages.FLAG_NOT_YES_NO, name=variable.name, value=value)
    return None


def positive_number(
    variable: Variable[int], environ: Environ | None = None, default: int | None = None
) -> int:
    """A whole number above 0 (*default*, else the declared one, when unset); ConfigError
    for anything else."""
    fallback = variable.default if default is None else default
    raw = variable.value(environ)
    if not raw:
        return fallback
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(
            messages.NOT_A_POSITIVE_NUMBER, name=variable.name, value=raw, default=fallback
        )
    return value


def whole_number(
    variable: Variable[int],
    environ: Environ | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> int:
    """A whole number, the default when unset; for anything else the default too, after
    *warn* (when given) got the one line saying so."""
    raw = variable.value(environ)
    if not raw:
        return variable.default
    try:
        return int(raw)
    except ValueError:
        if warn is not None:
            warn(
                messages.ENV_NOT_A_NUMBER.format(
                    name=variable.name, value=raw, default=variable.default
                )
            )
        return variable.default
