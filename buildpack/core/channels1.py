"""Recognise a Channels 1 project, which cannot run on today's stack.

Channels 1 (2016-2017) ran every request through a channel layer: ``asgi_redis`` layers
with a ``"ROUTING": "...channel_routing"`` setting, an ``asgi.py`` exporting
``channel_layer = get_channel_layer()`` for ``daphne my_project.asgi:channel_layer``, and
``runworker`` processes consuming ``http.*``/``websocket.*``. Channels 2+ changed all of
it, so such a project fails at start on any current stack; the build says so, with the
migration steps, instead of installing Channels 4 next to a ``channels==1.x`` pin.

Evidence is read statically like everything else: the dependency declarations, the
``CHANNEL_LAYERS`` setting and the project's ASGI module.
"""

from __future__ import annotations

import ast

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from buildpack import messages
from buildpack.core.asgi_scan import default_asgi_module
from buildpack.core.deps import Dependencies
from buildpack.core.plan import Plan
from buildpack.core.pysource import ModuleIndex, SourceError

# Packages that exist only for Channels 1 (their Channels 2+ successors have other names).
LEGACY_PACKAGES = {
    "asgi-redis": "channels_redis",
    "asgi-ipc": "channels_redis (asgi_ipc has no successor)",
    "asgi-rabbitmq": "channels_rabbitmq",
}
LEGACY_BACKENDS = ("asgi_redis.", "asgi_ipc.", "asgi_rabbitmq.", "asgiref.inmemory.")
# Whether a version constraint allows Channels/Daphne 2+ at all, probed with real releases.
_MODERN = ("2.0.0", "2.4.0", "3.0.5", "4.0.0", "4.3.2", "5.0.0")
_LEGACY = ("0.17.3", "1.0.0", "1.1.8", "1.3.0", "1.4.2")


def _legacy_only(deps: Dependencies, name: str) -> str | None:
    """``name==1.1.8``-like text when *name* is locked or constrained to a pre-2 version."""
    locked = deps.locked.get(name)
    if locked is not None:
        return f"{name}=={locked}" if locked.split(".")[0] in ("0", "1") else None
    requirement = deps.declared.get(name)
    if requirement is None or not requirement.specifier:
        return None
    try:
        allowed = SpecifierSet(requirement.specifier)
    except InvalidSpecifier:  # Poetry's ^1.1 and other non-PEP 440 forms
        return None
    if any(allowed.contains(v) for v in _MODERN) or not any(allowed.contains(v) for v in _LEGACY):
        return None
    return f"{name}{requirement.specifier} ({requirement.source})"


def _dependency_evidence(deps: Dependencies | None) -> list[str]:
    if deps is None:
        return []
    found = [pin for pin in (_legacy_only(deps, n) for n in ("channels", "daphne")) if pin]
    for name in LEGACY_PACKAGES:
        if name in deps.declared or name in deps.locked:
            found.append(name.replace("-", "_") + " in the dependencies")
    return found


def _settings_evidence(plan: Plan) -> list[str]:
    layers = plan.settings.channel_layers
    if layers is None:
        return []
    found = [f'CHANNEL_LAYERS "ROUTING": "{route}"' for route in layers.routing]
    found += [
        f'CHANNEL_LAYERS "BACKEND": "{backend}"'
        for backend in layers.backends
        if backend.startswith(LEGACY_BACKENDS)
    ]
    return found


def _asgi_evidence(plan: Plan, index: ModuleIndex) -> list[str]:
    """An import of ``channels.asgi`` (``get_channel_layer``, gone since Channels 2) in the
    project's asgi module."""
    settings = plan.settings
    module = index.find(default_asgi_module(index, settings.module, settings.wsgi_application))
    if module is None:
        return []
    try:
        tree = index.parse(module)
    except SourceError:
        return []
    for node in ast.walk(tree):
        imported = []
        if isinstance(node, ast.ImportFrom):
            imported = [node.module or ""]
        elif isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        if "channels.asgi" in imported:
            return [f"{index.display(module.path)} imports channels.asgi (get_channel_layer)"]
    return []


def evidence(plan: Plan, index: ModuleIndex) -> list[str]:
    """What marks the project as Channels 1 (empty: it is not)."""
    return (
        _dependency_evidence(plan.dependencies)
        + _settings_evidence(plan)
        + _asgi_evidence(plan, index)
    )


def message(plan: Plan, found: list[str]) -> str:
    """The build error: what was found, why it cannot run, and the migration steps."""
    package = (plan.settings.module or "my_project.settings").split(".")[0]
    return messages.CHANNELS1_PROJECT.format(evidence="; ".join(found[:4]), package=package)
