"""The build plan: everything static analysis learned about a project, as one typed object.

Printed in the build log, saved to ``.channels-buildpack/plan.json`` in the slug, and shown
by ``channels-buildpack inspect DIR --json``. All paths are relative to the app root, so
nothing from the build directory leaks into the slug.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from buildpack.core.deps import Dependencies

ProjectKind = Literal["channels", "django", "none"]
AsgiKind = Literal["channels", "stock", "missing", "custom"]
Server = Literal["daphne", "gunicorn"]


@dataclass
class LayerSetting:
    """What the user's CHANNEL_LAYERS setting says, as far as static reading can tell."""

    backends: list[str] = field(default_factory=list)
    reads_env: bool = False
    env_vars: list[str] = field(default_factory=list)
    dynamic: bool = False
    routing: list[str] = field(default_factory=list)
    """Channels 1's ``ROUTING`` entries (``my_project.routing.channel_routing``)."""


@dataclass
class DatabaseSetting:
    """What the user's DATABASES['default'] looks like statically."""

    engines: list[str] = field(default_factory=list)
    reads_env: bool = False
    env_vars: list[str] = field(default_factory=list)
    dynamic: bool = False

    @property
    def sqlite_only(self) -> bool:
        return (
            bool(self.engines) and all("sqlite" in e for e in self.engines) and not self.reads_env
        )


@dataclass
class SettingsInfo:
    """The settings module and the values that shape the deployment."""

    module: str | None = None
    source: str = ""
    files: list[str] = field(default_factory=list)
    installed_apps: list[str] | None = None
    asgi_application: str | None = None
    wsgi_application: str | None = None
    channel_layers: LayerSetting | None = None
    databases: DatabaseSetting | None = None
    secure_proxy_ssl_header: bool = False
    error: str | None = None


@dataclass
class AsgiInfo:
    """The ASGI entry point and the Channels routing reachable from it."""

    kind: AsgiKind = "missing"
    module: str | None = None
    attr: str = "application"
    path: str | None = None
    channels_aware: bool = False
    origin_validation: bool = False
    settings_default: str | None = None
    websocket_modules: list[str] = field(default_factory=list)
    background_channels: list[str] = field(default_factory=list)
    generated: str | None = None

    @property
    def app_path(self) -> str:
        return f"{self.module}:{self.attr}"


@dataclass
class ProcfileInfo:
    """The Procfile in effect: the user's (kept byte for byte) or the one we generate."""

    source: Literal["user", "generated", "none"] = "none"
    processes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """The result of analysing one app directory."""

    kind: ProjectKind
    reason: str
    project_dir: str = "."
    manage_py: str | None = None
    manage_py_candidates: list[str] = field(default_factory=list)
    dependencies: Dependencies | None = None
    settings: SettingsInfo = field(default_factory=SettingsInfo)
    asgi: AsgiInfo | None = None
    server: Server | None = None
    app_path: str | None = None
    wsgi_app_path: str | None = None
    uses_database: bool = False
    procfile: ProcfileInfo = field(default_factory=ProcfileInfo)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def is_channels(self) -> bool:
        return self.kind == "channels"

    @property
    def background_channels(self) -> list[str]:
        return self.asgi.background_channels if self.asgi else []

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (stable keys, sorted where order carries no meaning)."""
        data: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Dependencies):
                data[item.name] = value.to_json()
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                data[item.name] = dataclasses.asdict(value)
            else:
                data[item.name] = value
        return data
