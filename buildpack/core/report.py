"""Human-readable rendering of a :class:`Plan` (build log and ``inspect``)."""

from __future__ import annotations

from buildpack.core.analysis import describe_asgi
from buildpack.core.plan import Plan
from buildpack.redact import redact_text

_KEY_PACKAGES = ("django", "channels", "daphne", "channels-redis", "redis", "gunicorn")


def _dependencies(plan: Plan) -> str:
    deps = plan.dependencies
    if deps is None or not deps.files:
        return "no dependency files found"
    versions = []
    for name in _KEY_PACKAGES:
        if deps.has(name):
            hint = deps.version_hint(name)
            versions.append(f"{name}{hint}" if hint else name)
    return f"{deps.manager} ({', '.join(deps.files)}): {', '.join(versions) or 'none of the stack'}"


def _layers(plan: Plan) -> str:
    layers = plan.settings.channel_layers
    if layers is None:
        return "not configured (Redis from REDIS_URL, else in-memory single-process)"
    names = ", ".join(b.rpartition(".")[2] for b in layers.backends) or "dynamic"
    if layers.reads_env:
        return f"{names} (reads {', '.join(layers.env_vars)})"
    return names


def _database(plan: Plan) -> str:
    db = plan.settings.databases
    if db is None:
        return "none in settings (DATABASE_URL is used when set)"
    engines = ", ".join(e.rpartition(".")[2] for e in db.engines) or "dynamic"
    return f"{engines} (reads {', '.join(db.env_vars)})" if db.reads_env else engines


def plan_rows(plan: Plan) -> list[tuple[str, str]]:
    """(label, value) rows describing *plan*, in reading order."""
    rows = [("Project", f"{plan.project_dir} (manage.py: {plan.manage_py or 'none'})")]
    rows.append(("Dependencies", _dependencies(plan)))
    if plan.settings.module:
        rows.append(("Settings", f"{plan.settings.module} (from {plan.settings.source})"))
    if plan.asgi is not None:
        rows.append(("ASGI app", describe_asgi(plan.asgi)))
        rows.append(("WebSocket routes", ", ".join(plan.asgi.websocket_modules) or "none found"))
        rows.append(("Background", ", ".join(plan.asgi.background_channels) or "no channels"))
        if plan.asgi.generated:
            rows.append(("Generated", f"{plan.asgi.generated} (serves {plan.app_path})"))
    elif plan.wsgi_app_path:
        rows.append(("WSGI app", plan.wsgi_app_path))
    if plan.settings.module:
        rows.append(("Channel layer", _layers(plan)))
        rows.append(("Database", _database(plan)))
    return rows


def plan_text(plan: Plan) -> str:
    """Aligned ``Label:  value`` lines (URL passwords masked)."""
    rows = plan_rows(plan)
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(redact_text(f"{label + ':':<{width}}{value}") for label, value in rows)
