"""The live half of ``doctor``: the app's settings as a web dyno would see them, then checks.

Loads the settings like the launchers do (settings layer on, ``DYNO=web.1`` assumed when
unset, so the platform's decisions apply), then checks Redis (reachable, TLS mode), the
database (reachable, migrations), hosts and CSRF origins against the app's public host,
Django's system checks (ours: ``channels_buildpack.W0xx``), and static files.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildpack import envvars, messages
from buildpack.core.findings import Finding
from buildpack.messages import StatusError
from buildpack.redact import redact_text, redact_url
from buildpack.runtime.config import active_layer, loading
from buildpack.runtime.config.hosts import split_list
from buildpack.runtime.layers import MEMORY_BACKENDS, host_address
from buildpack.runtime.layers.resilience import is_certificate_error
from buildpack.runtime.ops.layer_state import close_clients, open_clients, queue_layer

ASSUMED_DYNO = "web.1"
REDIS_TIMEOUT = 5.0
STATIC_SERVERS = ("whitenoise.middleware.WhiteNoiseMiddleware", "servestatic.middleware")
HOST_CHECKS_DONE_HERE = ("channels_buildpack.W003", "channels_buildpack.W004")


@dataclass
class LiveReport:
    """The settings in effect and the findings."""

    title: str
    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def live_checks(
    project: Path, app_path: str | None, release_phase: bool, host: str | None
) -> LiveReport:
    """Load the settings of the Django project in *project* (serving *app_path*) as a web
    dyno would, then check what they point at; *release_phase*: the Procfile in effect runs
    the migrations."""
    assumed = envvars.DYNO.raw() is None
    if assumed:
        os.environ[envvars.DYNO.name] = ASSUMED_DYNO
    where = f"{envvars.DYNO.name}={envvars.DYNO.raw()}" + (" assumed" if assumed else "")
    report = LiveReport(f"Settings layer in this environment ({where})")
    settings = _load(project, app_path, report)
    if settings is None:
        return report
    report.lines += effective_settings(settings)
    report.findings += redis_findings(settings)
    database_ok = database_findings(settings, report)
    report.findings += host_findings(settings, host or _public_host())
    report.findings += system_check_findings()
    report.findings += static_files_findings(settings)
    if database_ok:
        report.findings += migration_findings(release_phase)
    return report


def _load(project: Path, app_path: str | None, report: LiveReport) -> Any | None:
    os.environ.setdefault(envvars.QUIET.name, "1")
    try:
        loading.prepare(str(project), app_path)
        settings = loading.load_settings()
        import django

        django.setup(set_prefix=False)
    except ImportError as exc:
        report.findings.append(
            Finding("warn", "Settings", messages.DOCTOR_NO_DJANGO.format(error=exc))
        )
        return None
    except (Exception, SystemExit) as exc:
        error = f"{type(exc).__name__}: {exc}"
        report.findings.append(
            Finding("error", "Settings", messages.DOCTOR_SETTINGS_FAIL.format(error=error))
        )
        return None
    return settings


def _public_host() -> str | None:
    """The app's host from the platform (runtime dyno metadata) or DJANGO_ALLOWED_HOSTS."""
    platform = envvars.APP_HOST.value()
    if platform:
        return platform
    for item in split_list(envvars.ALLOWED_HOSTS.value()):
        if not item.startswith(".") and item not in ("*", "localhost", "127.0.0.1"):
            return item.split("://")[-1].split("/")[0].split(":")[0]
    return None


def effective_settings(settings: Any) -> list[str]:
    """The values the platform would run with (passwords masked)."""
    database = (getattr(settings, "DATABASES", None) or {}).get("default") or {}
    where = database.get("HOST") or database.get("NAME") or ""
    engine = str(database.get("ENGINE", "none")).rpartition(".")[2]
    return [
        f"CHANNEL_LAYERS:          {active_layer.describe(settings)}",
        f"DATABASES:               {engine} {redact_url(str(where))}".rstrip(),
        f"ALLOWED_HOSTS:           {list(getattr(settings, 'ALLOWED_HOSTS', []))}",
        f"CSRF_TRUSTED_ORIGINS:    {list(getattr(settings, 'CSRF_TRUSTED_ORIGINS', []))}",
        f"SECURE_PROXY_SSL_HEADER: {getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)}",
    ]


def _tls_mode(host: dict[str, Any]) -> str:
    address = str(host.get("address", ""))
    if address.startswith("rediss://") or host.get("ssl"):
        verified = host.get("ssl_cert_reqs", "required") is not None
        return "TLS, certificate verified" if verified else "TLS, certificate not verified"
    return "no TLS"


async def _ping_all(layer: Any) -> list[BaseException | None]:
    clients = open_clients(layer)
    results: list[BaseException | None] = []
    try:
        for client in clients:
            try:
                await asyncio.wait_for(client.ping(), REDIS_TIMEOUT)
                results.append(None)
            except Exception as exc:
                results.append(exc)
    finally:
        with contextlib.suppress(Exception):
            await close_clients(clients)
    return results


def redis_findings(settings: Any) -> list[Finding]:
    """Each Redis host of the default layer: reachable? in which TLS mode?"""
    layer_config = active_layer.default_layer(settings)
    backend = str(layer_config.get("BACKEND", ""))
    if not backend or backend in MEMORY_BACKENDS:
        return [Finding("ok", "Redis", messages.DOCTOR_NO_REDIS)]
    if "redis" not in backend.lower():
        return [Finding("ok", "Redis", f"not used (layer {backend})")]
    layer = queue_layer(layer_config)
    try:
        results = asyncio.run(_ping_all(layer))
    except StatusError as exc:
        return [Finding("warn", "Redis", str(exc))]
    found = []
    for host, error in zip(layer.hosts, results, strict=True):
        address, mode = host_address(host), _tls_mode(host)
        if error is None:
            found.append(Finding("ok", "Redis", f"{address} reachable ({mode})"))
        elif is_certificate_error(error):
            text = messages.REDIS_TLS_UNTRUSTED.format(
                url=address, detail="CERTIFICATE_VERIFY_FAILED"
            )
            found.append(Finding("error", "Redis", text))
        else:
            detail = redact_text(f"{type(error).__name__}: {error}")
            text = messages.DOCTOR_REDIS_UNREACHABLE.format(url=address, mode=mode, detail=detail)
            found.append(Finding("error", "Redis", text))
    return found


def database_findings(settings: Any, report: LiveReport) -> bool:
    """Reach the default database; True when it answered (migrations can be checked)."""
    if not (getattr(settings, "DATABASES", None) or {}).get("default"):
        report.findings.append(Finding("ok", "Database", "none configured"))
        return False
    from django.db import connections

    try:
        connections["default"].ensure_connection()
    except Exception as exc:
        detail = redact_text(f"{type(exc).__name__}: {exc}")
        report.findings.append(
            Finding("error", "Database", messages.DOCTOR_DATABASE_UNREACHABLE.format(detail=detail))
        )
        return False
    engine = str(settings.DATABASES["default"].get("ENGINE", "")).rpartition(".")[2]
    report.findings.append(Finding("ok", "Database", f"reachable ({engine})"))
    return True


def host_findings(settings: Any, host: str | None) -> list[Finding]:
    """Would requests for *host* pass ALLOWED_HOSTS, and same-origin POSTs pass CSRF?"""
    if not host:
        return [Finding("warn", "Hosts", messages.DOCTOR_HOST_UNKNOWN)]
    from django.http.request import validate_host

    allowed = list(getattr(settings, "ALLOWED_HOSTS", []) or [])
    if not validate_host(host, allowed):
        return [
            Finding(
                "error", "Hosts", messages.DOCTOR_HOST_REFUSED.format(host=host, allowed=allowed)
            )
        ]
    found = [Finding("ok", "Hosts", f"{host} is allowed")]
    origins = list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or [])
    bad = [o for o in origins if "://" not in o]
    if bad:
        found.append(Finding("warn", "CSRF", messages.DOCTOR_CSRF_NO_SCHEME.format(origins=bad)))
    secure = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None
    if not secure and f"https://{host}" not in origins:
        found.append(Finding("error", "CSRF", messages.DOCTOR_CSRF_HTTPS.format(host=host)))
    else:
        found.append(Finding("ok", "CSRF", f"same-origin forms from https://{host} pass"))
    return found


def system_check_findings() -> list[Finding]:
    """Django's system checks with --deploy: ours, and any error."""
    from django.core import checks

    found = []
    for message in checks.run_checks(include_deployment_checks=True):
        ours = str(message.id or "").startswith("channels_buildpack.")
        if ours and message.id in HOST_CHECKS_DONE_HERE:
            continue
        if ours or message.level >= checks.ERROR:
            level: Any = "error" if message.level >= checks.ERROR else "warn"
            text = (
                messages.DOCTOR_CHECK_WITH_HINT.format(message=message.msg, hint=message.hint)
                if message.hint
                else message.msg
            )
            found.append(Finding(level, f"Check {message.id}", text))
    return found


def static_files_findings(settings: Any) -> list[Finding]:
    """collectstatic needs STATIC_ROOT; Daphne needs a static-files middleware to serve them."""
    if "django.contrib.staticfiles" not in list(getattr(settings, "INSTALLED_APPS", [])):
        return []
    if not getattr(settings, "STATIC_ROOT", None):
        return [Finding("error", "Static files", messages.DOCTOR_NO_STATIC_ROOT)]
    middleware = " ".join(getattr(settings, "MIDDLEWARE", []) or [])
    if not any(server in middleware for server in STATIC_SERVERS):
        return [Finding("warn", "Static files", messages.STATIC_FILES_NOT_SERVED)]
    return [Finding("ok", "Static files", "collected to STATIC_ROOT and served by a middleware")]


def migration_findings(release_phase: bool) -> list[Finding]:
    """Unapplied migrations (fine when *release_phase* applies them), and model changes
    without migrations."""
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections["default"])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    found = []
    if pending:
        text = messages.DOCTOR_MIGRATIONS_PENDING.format(count=len(pending))
        found.append(Finding("ok" if release_phase else "warn", "Migrations", text))
    else:
        found.append(Finding("ok", "Migrations", "all applied"))
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())
    except SystemExit:
        found.append(Finding("warn", "Migrations", messages.DOCTOR_MISSING_MIGRATIONS))
    except Exception:  # no migrations module etc.: nothing to say here
        pass
    return found
