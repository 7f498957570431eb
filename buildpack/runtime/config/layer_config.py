"""Choose ``CHANNEL_LAYERS`` from the environment (the README's selection table).

Pure: environment and the user's current setting in, a :class:`LayerDecision` out.
Malformed values raise :class:`~buildpack.messages.ConfigError` with a one-line explanation
and fix (:mod:`buildpack.messages`); they never surface as a traceback.

| environment                                   | layer                                          |
|-----------------------------------------------|------------------------------------------------|
| CHANNELS_LAYER=keep                           | the user's setting, untouched                  |
| user setting names a real backend             | kept; stock channels_redis core -> ours;        |
|                                               | TLS option added for Heroku rediss://          |
| CHANNELS_REDIS_URLS / REDIS_URL               | channels_redis, one host per URL, listed order |
|   + CHANNELS_LAYER=pubsub                     | pub/sub for groups, queue for background jobs  |
| CLOUDAMQP_URL / RABBITMQ_URL (+ installed)    | channels_rabbitmq                              |
| nothing                                       | thread-safe in-memory layer, single-process    |
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from buildpack import envvars, messages
from buildpack.messages import ConfigError
from buildpack.redact import redact_url
from buildpack.runtime.layers import (
    MEMORY_BACKEND,
    MEMORY_BACKENDS,
    PUBSUB_BACKEND,
    RABBITMQ_BACKEND,
    REDIS_BACKEND,
    STOCK_MEMORY_BACKEND,
    STOCK_PUBSUB_BACKEND,
    STOCK_REDIS_BACKEND,
)

Mode = Literal["redis", "pubsub", "rabbitmq", "memory", "user"]
REDIS_BACKENDS = (STOCK_REDIS_BACKEND, REDIS_BACKEND, PUBSUB_BACKEND, STOCK_PUBSUB_BACKEND)
REDIS_SCHEMES = ("redis", "rediss", "unix")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# channels_redis connects here when a layer has no "hosts".
IMPLICIT_HOST = "redis://localhost:6379"


@dataclass
class LayerDecision:
    """What to do with CHANNEL_LAYERS."""

    mode: Mode
    config: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.config is not None


def validate_redis_url(url: str, source: str) -> str:
    """Return *url* stripped, or raise ConfigError naming *source* (value redacted)."""
    value = url.strip()
    shown = redact_url(value)
    if not value:
        raise ConfigError(messages.REDIS_URL_EMPTY, source=source)
    if any(ch.isspace() for ch in value):
        raise ConfigError(messages.REDIS_URL_WHITESPACE, source=source, shown=shown)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            messages.REDIS_URL_INVALID, source=source, shown=shown, error=exc
        ) from exc
    if parts.scheme not in REDIS_SCHEMES:
        scheme = parts.scheme or "none"
        raise ConfigError(messages.REDIS_URL_SCHEME, source=source, scheme=scheme, shown=shown)
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(messages.REDIS_URL_NO_SOCKET, source=source, shown=shown)
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(messages.REDIS_URL_NO_HOST, source=source, shown=shown)
    if port == 0:
        raise ConfigError(messages.REDIS_URL_PORT_ZERO, source=source, shown=shown)
    return value


def _shard_identity(url: str) -> tuple[str, str, int, str]:
    """(scheme, host or socket path, port, db): redis:// and rediss:// of one server are one."""
    parts = urlsplit(url)
    default_port = 6379
    query_db = dict(parse_qsl(parts.query)).get("db", "")
    if parts.scheme == "unix":  # the path is the socket; the db can only be in the query
        return ("unix", parts.path, 0, query_db or "0")
    return (
        parts.scheme.replace("rediss", "redis"),
        (parts.hostname or "").lower(),
        parts.port or default_port,
        parts.path.strip("/") or query_db or "0",
    )


def redis_urls(environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(urls, warnings): the shard list in a stable order, duplicates removed."""
    warnings: list[str] = []
    raw_list = envvars.REDIS_URLS.value(environ)
    redis_url = envvars.REDIS_URL.raw(environ)
    entries: list[tuple[str, str]] = []
    if raw_list:
        for item in re.split(r"[,\s]+", raw_list):
            if not item:
                continue
            if "://" in item:
                entries.append((item, "CHANNELS_REDIS_URLS entry"))
            elif _ENV_NAME.fullmatch(item):
                value = environ.get(item, "")
                if not value.strip():
                    raise ConfigError(messages.REDIS_URLS_NAME_UNSET, name=item)
                entries.append((value, item))
            else:
                raise ConfigError(messages.REDIS_URLS_ENTRY_INVALID, entry=redact_url(item))
    elif redis_url is not None:
        if not redis_url.strip():
            warnings.append(messages.REDIS_URL_EMPTY_IGNORED)
        else:
            entries.append((redis_url, envvars.REDIS_URL.name))
    urls: list[str] = []
    seen: dict[tuple[str, str, int, str], str] = {}
    for value, source in entries:
        url = validate_redis_url(value, source)
        identity = _shard_identity(url)
        if identity in seen:
            warnings.append(
                messages.REDIS_SHARD_TWICE.format(
                    source=source, first=seen[identity], url=redact_url(url)
                )
            )
            continue
        seen[identity] = source
        urls.append(url)
    return urls, warnings


def _tls_verify(environ: Mapping[str, str], on_dyno: bool) -> bool:
    explicit = envvars.tls_verify(environ)
    return (not on_dyno) if explicit is None else explicit


def redis_host(url: str, verify_tls: bool) -> dict[str, Any]:
    """channels_redis host dict for *url* (TLS verification off only when asked)."""
    host: dict[str, Any] = {"address": url}
    if url.startswith("rediss://") and not verify_tls:
        host["ssl_cert_reqs"] = None
        host["ssl_check_hostname"] = False
    return host


def _tunables(environ: Mapping[str, str], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Layer options: defaults, then the user's own values (*base*), then env variables."""
    tunables = envvars.TUNABLES
    options: dict[str, Any] = {key: variable.default for key, variable in tunables.items()}
    options.update({k: v for k, v in (base or {}).items() if k in (*tunables, "channel_capacity")})
    for key, variable in tunables.items():
        fallback = options[key] or variable.default
        options[key] = envvars.positive_number(variable, environ, fallback)
    return options


def _describe_hosts(urls: list[str], verify: bool) -> str:
    tls = any(u.startswith("rediss://") for u in urls)
    shown = ", ".join(redact_url(u) for u in urls)
    suffix = (", TLS verified" if verify else ", TLS verification off") if tls else ""
    return f"{len(urls)} host{'s' if len(urls) > 1 else ''}: {shown}{suffix}"


def _redis_decision(
    urls: list[str], pubsub: bool, environ: Mapping[str, str], on_dyno: bool
) -> LayerDecision:
    verify = _tls_verify(environ, on_dyno)
    hosts = [redis_host(u, verify) for u in urls]
    size = envvars.redis_max_connections(environ)
    if size is not None:
        for host in hosts:
            host["max_connections"] = size
    if pubsub:
        config = {"BACKEND": PUBSUB_BACKEND, "CONFIG": {"hosts": hosts, **_tunables(environ)}}
        note = (
            "channels_redis pub/sub for groups, exactly-once queue for background channels "
            f"({_describe_hosts(urls, verify)})"
        )
        return LayerDecision("pubsub", {"default": config}, [note])
    config = {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": hosts, **_tunables(environ)}}
    note = f"channels_redis core, exactly-once ({_describe_hosts(urls, verify)})"
    return LayerDecision("redis", {"default": config}, [note])


def _multi_process_warning(environ: Mapping[str, str]) -> list[str]:
    dyno = envvars.DYNO.raw(environ) or ""
    kind, index = envvars.dyno_kind_and_index(environ)
    if (
        not dyno
        or (kind == "web" and index in ("", "1"))
        or kind in ("run", "release", "scheduler")
    ):
        return []
    return [messages.MEMORY_LAYER_ON_SEVERAL_DYNOS.format(dyno=dyno)]


def _memory_decision(
    environ: Mapping[str, str], replaced: str | None, user_options: Mapping[str, Any] | None
) -> LayerDecision:
    config = {"BACKEND": MEMORY_BACKEND, "CONFIG": _tunables(environ, user_options)}
    what = "in-memory (no Redis: single-process mode"
    what += (
        f"; replaces {replaced.rpartition('.')[2]}, which breaks across threads)"
        if replaced
        else ")"
    )
    return LayerDecision("memory", {"default": config}, [what], _multi_process_warning(environ))


def _is_local(address: Any) -> bool:
    if isinstance(address, dict):
        address = address.get("address") or address.get("host")
    if isinstance(address, (tuple, list)) and address:
        address = address[0]
    if not isinstance(address, str):
        return False
    host = urlsplit(address).hostname if "://" in address else address
    return (host or "").lower() in _LOCAL_HOSTS


def _same_shards(hosts: list[Any], urls: list[str]) -> bool:
    addresses = [h.get("address") if isinstance(h, dict) else h for h in hosts]
    strings = [a for a in addresses if isinstance(a, str) and "://" in a]
    if len(strings) != len(addresses):
        return False
    return {_shard_identity(a) for a in strings} == {_shard_identity(u) for u in urls}


def _fix_user_layers(
    current: dict[str, Any], urls: list[str], environ: Mapping[str, str], on_dyno: bool
) -> LayerDecision:
    config = copy.deepcopy(current)
    notes: list[str] = []
    verify = _tls_verify(environ, on_dyno)
    for alias, layer in config.items():
        if not isinstance(layer, dict):
            continue
        backend = layer.get("BACKEND")
        if backend == STOCK_REDIS_BACKEND:
            layer["BACKEND"] = REDIS_BACKEND
            notes.append(f"{alias}: channels_redis core -> exactly-once, idle-safe subclass")
        elif backend == STOCK_PUBSUB_BACKEND:
            layer["BACKEND"] = PUBSUB_BACKEND
            notes.append(f"{alias}: channels_redis pub/sub -> exactly-once background channels")
        if backend not in REDIS_BACKENDS:
            continue
        options = layer.get("CONFIG")
        options = options if isinstance(options, dict) else {}
        hosts = list(options.get("hosts") or [])
        effective = hosts or [IMPLICIT_HOST]
        if (
            urls
            and on_dyno
            and all(_is_local(h) for h in effective)
            and not _same_shards(effective, urls)
        ):
            layer["CONFIG"] = {**options, "hosts": [redis_host(u, verify) for u in urls]}
            notes.append(f"{alias}: localhost Redis -> {_describe_hosts(urls, verify)}")
            continue
        fixed = []
        for host in hosts:
            address = host.get("address") if isinstance(host, dict) else host
            tls = isinstance(address, str) and address.startswith("rediss://")
            if tls and not verify and not (isinstance(host, dict) and "ssl_cert_reqs" in host):
                entry = {**host} if isinstance(host, dict) else {"address": address}
                entry.update(ssl_cert_reqs=None, ssl_check_hostname=False)
                notes.append(f"{alias}: rediss:// host gets ssl_cert_reqs=None (self-signed cert)")
                fixed.append(entry)
            else:
                fixed.append(host)
        if fixed != hosts:  # only rewrite what was fixed (no empty "hosts" added)
            layer["CONFIG"] = {**options, "hosts": fixed}
    default_backend = current.get("default", {}).get("BACKEND")
    mode: Mode = "pubsub" if default_backend in (PUBSUB_BACKEND, STOCK_PUBSUB_BACKEND) else "user"
    if not notes:
        return LayerDecision(mode, None, ["your CHANNEL_LAYERS, kept"])
    return LayerDecision(
        mode, config, ["your CHANNEL_LAYERS, kept with fixes: " + "; ".join(notes)]
    )


def decide(
    environ: Mapping[str, str],
    current: Any,
    *,
    rabbitmq_available: bool = False,
) -> LayerDecision:
    """The CHANNEL_LAYERS to use given *environ* and the user's setting *current*."""
    choice = envvars.layer_choice(environ)
    if choice == "keep":
        return LayerDecision("user", None, ["your CHANNEL_LAYERS, untouched (CHANNELS_LAYER=keep)"])
    on_dyno = envvars.on_dyno(environ)
    urls, warnings = redis_urls(environ)
    default = current.get("default") if isinstance(current, dict) else None
    user_backend = default.get("BACKEND") if isinstance(default, dict) else None
    decision: LayerDecision
    if choice == "auto" and user_backend and user_backend not in MEMORY_BACKENDS:
        decision = _fix_user_layers(current, urls, environ, on_dyno)
    elif choice in ("auto", "core", "redis", "pubsub") and urls:
        decision = _redis_decision(urls, choice == "pubsub", environ, on_dyno)
    elif choice in ("core", "redis", "pubsub"):
        raise ConfigError(messages.LAYER_NEEDS_REDIS, choice=choice)
    else:
        user_options = default.get("CONFIG") if isinstance(default, dict) else None
        decision = _amqp_or_memory(
            environ,
            choice,
            user_backend,
            user_options if isinstance(user_options, dict) else None,
            rabbitmq_available,
            warnings,
        )
    decision.warnings = warnings + decision.warnings
    return decision


def _amqp_or_memory(
    environ: Mapping[str, str],
    choice: str,
    user_backend: str | None,
    user_options: Mapping[str, Any] | None,
    rabbitmq_available: bool,
    warnings: list[str],
) -> LayerDecision:
    amqp = next((v for v in envvars.AMQP_URLS if v.value(environ)), None)
    if choice in ("auto", "rabbitmq") and amqp is not None:
        if rabbitmq_available:
            url = amqp.value(environ)
            config = {"BACKEND": RABBITMQ_BACKEND, "CONFIG": {"host": url}}
            note = f"channels_rabbitmq ({redact_url(url)}; no background-worker channels)"
            return LayerDecision("rabbitmq", {"default": config}, [note])
        if choice == "rabbitmq":
            raise ConfigError(messages.RABBITMQ_NOT_INSTALLED)
        warnings.append(messages.RABBITMQ_UNUSED.format(variable=amqp.name))
    elif choice == "rabbitmq":
        raise ConfigError(messages.RABBITMQ_NEEDS_URL)
    replaced = user_backend if user_backend == STOCK_MEMORY_BACKEND else None
    return _memory_decision(environ, replaced, user_options)
