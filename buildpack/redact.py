"""Keep secrets out of logs: passwords inside URLs and config-var values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry credentials in connection URLs.
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "token", "secret", "key", "auth"})
# Config vars whose values are printed in clear: never secrets, useful in logs.
_PUBLIC_VARS = frozenset(
    {
        "DYNO",
        "PORT",
        "WEB_CONCURRENCY",
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOWED_HOSTS",
        "DJANGO_CSRF_TRUSTED_ORIGINS",
        "CHANNELS_LAYER",
        "CHANNELS_BUILDPACK_SETTINGS",
        "CHANNELS_BUILDPACK_REDIS_ADDON",
        "CHANNELS_REDIS_URLS",
        "CHANNELS_REDIS_TLS_VERIFY",
        "PYTHONUNBUFFERED",
    }
)
# Anything that looks like scheme://user:password@host.
_URL_WITH_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@"
)


def redact_url(url: str) -> str:
    """Return *url* with any password (userinfo or query parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}{sep}{MASK if sep else ''}@{hostport}" if sep else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords in free text, and every literal secret value given."""
    text = _URL_WITH_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def describe_config_var(name: str, value: str) -> str:
    """``NAME=value`` for public vars, ``NAME=<redacted URL>`` for URLs, else ``NAME=***``."""
    if name in _PUBLIC_VARS:
        return f"{name}={value}"
    if "://" in value:
        return f"{name}={redact_url(value)}"
    return f"{name}={MASK}"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of *env* that must never appear in a log (everything not known public)."""
    return [v for k, v in env.items() if k not in _PUBLIC_VARS and v]
