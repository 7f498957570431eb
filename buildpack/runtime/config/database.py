"""``DATABASE_URL`` -> ``DATABASES['default']``, with choices right for the server in use.

Django's docs: persistent connections must be disabled under ASGI (each request may run in
a different thread, so kept-open connections pile up until Postgres refuses more); use the
database's pooling instead. Under WSGI (gunicorn) a 10-minute lifetime with health checks
saves a connection set-up per request. Heroku Postgres needs TLS (``sslmode=require``).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from buildpack import envvars, messages
from buildpack.messages import ConfigError
from buildpack.redact import redact_url

ServerKind = Literal["asgi", "wsgi"]
WSGI_CONN_MAX_AGE = 600
_LOCAL = frozenset({"", "localhost", "127.0.0.1", "::1"})


def server_kind(environ: Mapping[str, str] | None = None) -> ServerKind:
    """ASGI unless this process is gunicorn with a WSGI worker (our launchers say asgi)."""
    environ = os.environ if environ is None else environ
    declared = envvars.declared_server(environ)
    if declared in ("asgi", "wsgi"):
        return declared  # type: ignore[return-value]
    program = Path(sys.argv[0]).name if sys.argv else ""
    if program.startswith("gunicorn") or "gunicorn.app.wsgiapp" in sys.modules:
        words = [*sys.argv[1:], *shlex.split(envvars.GUNICORN_CMD_ARGS.value(environ))]
        worker = _gunicorn_worker_class(words)
        return "asgi" if ("uvicorn" in worker or "asgi" in worker) else "wsgi"
    return "asgi"


def _gunicorn_worker_class(words: list[str]) -> str:
    """The ``-k``/``--worker-class`` value of a gunicorn command line ("" when absent)."""
    for index, word in enumerate(words):
        if word in ("-k", "--worker-class") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(("--worker-class=", "-k")) and word not in ("-k",):
            return word.split("=", 1)[1] if "=" in word else word[2:]
    return ""


def _same_database(current: Mapping[str, Any], parsed: Mapping[str, Any]) -> bool:
    keys = ("NAME", "HOST", "PORT")
    engine = str(current.get("ENGINE", "")).rpartition(".")[2].replace("_psycopg2", "")
    wanted = str(parsed.get("ENGINE", "")).rpartition(".")[2].replace("_psycopg2", "")
    return engine == wanted and all(
        str(current.get(k) or "") == str(parsed.get(k) or "") for k in keys
    )


def decide(
    environ: Mapping[str, str], current: Any, server: ServerKind
) -> tuple[dict[str, Any] | None, str | None]:
    """(new DATABASES or None to keep, note for the start-up line)."""
    url = envvars.DATABASE_URL.value(environ)
    if not url:
        return None, None
    import dj_database_url

    on_dyno = envvars.on_dyno(environ)
    asgi = server == "asgi"
    try:
        parts = urlsplit(url)  # raises ValueError on e.g. an unclosed IPv6 bracket
        host = parts.hostname or ""
        wants_tls = on_dyno and host not in _LOCAL and "sslmode" not in parse_qs(parts.query)
        parsed = dj_database_url.parse(
            url,
            conn_max_age=0 if asgi else WSGI_CONN_MAX_AGE,
            conn_health_checks=not asgi,
            ssl_require=wants_tls and url.startswith(("postgres", "pgsql")),
        )
        options = parsed.get("OPTIONS") or {}
        if "sqlite" not in str(parsed.get("ENGINE")) and not (
            parsed.get("NAME") or options.get("service")
        ):
            # dj-database-url accepts "postgres://" or "postgres://host" and returns no NAME;
            # Django would fail later, at the first query, far from the cause.
            raise ValueError("no database name in the URL")
    except Exception as exc:  # dj-database-url raises ValueError/KeyError for bad URLs
        raise ConfigError(messages.DATABASE_URL_UNUSABLE, url=redact_url(url), error=exc) from exc
    default = current.get("default") if isinstance(current, dict) else None
    if isinstance(default, dict) and default:
        if _same_database(default, parsed):
            return None, "DATABASES already reads DATABASE_URL: kept"
        engine = str(default.get("ENGINE", ""))
        local = "sqlite" in engine or str(default.get("HOST") or "") in _LOCAL
        if not local:
            return None, f"DATABASES points at {default.get('HOST')}, not DATABASE_URL: kept"
    lifetime = (
        "conn_max_age=0 (ASGI)" if asgi else f"conn_max_age={WSGI_CONN_MAX_AGE}, health checks"
    )
    tls = ", sslmode=require" if parsed.get("OPTIONS", {}).get("sslmode") == "require" else ""
    new = dict(current) if isinstance(current, dict) else {}
    new["default"] = parsed
    return new, f"DATABASES from DATABASE_URL {redact_url(url)} ({lifetime}{tls})"
