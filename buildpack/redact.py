"""Keep secrets out of logs: passwords inside URLs and config-var values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from buildpack.envvars import REGISTRY

MASK = "***"

# Query parameters that carry credentials in connection URLs.
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "token", "secret", "key", "auth"})
# Config vars whose values are printed in clear (never secrets, useful in logs): those
# :mod:`buildpack.envvars` declares public. Every other value may carry a secret.
_PUBLIC_VARS = frozenset(name for name, variable in REGISTRY.items() if variable.public)
# Anything that looks like scheme://user:password@host. The password runs to the LAST '@'
# before a separator (raw '@' in passwords is common); ',' and quotes end it so that lists
# of URLs and JSON keep their other values. Scheme and user name are bounded so that a long
# run of letters (a hostile file echoed in a message) costs linear, not quadratic, time.
_URL_WITH_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]{0,63}://)(?P<user>[^:/\s]{0,256}):(?P<pw>[^\s/\"',]+)@"
)
# user:password@ without a parsable scheme (typos such as ``redis//:pw@host``).
_LOOSE_USERINFO = re.compile(r"(?P<user>[^:/@\s]{0,256}):(?P<pw>[^\s/]+)@")
_QUERY_SECRET = r"(?P<key>[?&;](?:password|passwd|pass|token|secret|key|auth)=)"
_URL_QUERY_SECRET = re.compile(_QUERY_SECRET + r"[^&#\s]*", re.IGNORECASE)
_TEXT_QUERY_SECRET = re.compile(_QUERY_SECRET + r"[^&#\s\"',]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Return *url* with any password (userinfo or query parameter) replaced by ``***``.

    Only the secret parts are replaced; the rest of the string is left as written (no
    re-encoding). Malformed URLs are masked too: a typo must not print the password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    out = url
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, sep, _password = userinfo.partition(":")
        if sep:
            masked = out.replace(f"{userinfo}@", f"{user}:{MASK}@", 1)
            if masked == out:  # urlsplit dropped characters (tab, newline): rebuild
                hostport = parts.netloc.rpartition("@")[2]
                netloc = f"{user}:{MASK}@{hostport}"
                masked = urlunsplit(parts._replace(netloc=netloc))
            out = masked
    elif "@" in url:
        out = _LOOSE_USERINFO.sub(lambda m: f"{m['user']}:{MASK}@", out)
    return _URL_QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", out)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords (userinfo, secret query parameters) in free text, and every
    literal secret value given (values shorter than 4 characters are left alone)."""
    text = _URL_WITH_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _TEXT_QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def describe_config_var(name: str, value: str) -> str:
    """``NAME=value`` for public vars, ``NAME=<redacted URL>`` for URLs, else ``NAME=***``.

    URL passwords are masked in public values too.
    """
    if name in _PUBLIC_VARS:
        return f"{name}={redact_text(value)}"  # CHANNELS_REDIS_URLS may list URLs
    if "://" in value:
        return f"{name}={redact_text(redact_url(value))}"  # several URLs: mask them all
    return f"{name}={MASK}"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of *env* that must never appear in a log (everything not known public)."""
    return [v for k, v in env.items() if k not in _PUBLIC_VARS and v]


_CREDENTIAL_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|_KEY$", re.I)


def credential_values(env: Mapping[str, str]) -> list[str]:
    """Values of *env* whose names say they are credentials (``*_TOKEN``, ``SECRET_KEY``...).

    Narrower than :func:`secret_values`, for output that may legitimately contain other
    config values (channel names, hosts): URL passwords are masked by :func:`redact_text`.
    """
    return [v for k, v in env.items() if v and _CREDENTIAL_NAME.search(k)]
