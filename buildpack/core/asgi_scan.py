"""Find and classify the ASGI application, its WebSocket routes and background channels.

Static only: modules are parsed and their local imports followed, nothing is imported.
"""

from __future__ import annotations

import ast
import os
from collections import deque
from pathlib import Path

from buildpack.core import safefs
from buildpack.core.detect import SKIP_DIRS
from buildpack.core.plan import AsgiInfo
from buildpack.core.pysource import (
    MAX_SOURCE_BYTES,
    ModuleFile,
    ModuleIndex,
    SourceError,
    absolute_import,
    call_name,
    setdefault_settings_module,
    string_constant,
)

WEBSOCKET_PATTERNS = "websocket_urlpatterns"
GENERATED_MODULE = "channels_buildpack_asgi"
MAX_FOLLOW_DEPTH = 4
MAX_FOLLOW_MODULES = 200
MAX_SCAN_DEPTH = 5
MAX_SCAN_FILES = 5000
MAX_SCAN_BYTES = 64 * 1024 * 1024  # read in total while looking for routes


def split_app_path(dotted: str) -> tuple[str, str]:
    """``mysite.asgi.application`` -> (``mysite.asgi``, ``application``)."""
    module, _, attr = dotted.rpartition(".")
    return (module, attr) if module else (dotted, "application")


def sibling_module(dotted: str, name: str) -> str:
    """``mysite.wsgi`` -> ``mysite.asgi``; a top-level ``wsgi`` -> ``asgi`` (flat layout)."""
    package = dotted.rpartition(".")[0]
    return f"{package}.{name}" if package else name


def default_asgi_module(index: ModuleIndex, settings_module: str | None, wsgi: str | None) -> str:
    """Where Django's ``startproject`` puts ``asgi.py``: beside ``wsgi.py`` / the settings."""
    candidates: list[str] = []
    if wsgi:
        wsgi_module, _ = split_app_path(wsgi)
        candidates.append(sibling_module(wsgi_module, "asgi"))
    if settings_module:
        parts = settings_module.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            candidates.append(".".join(parts[:cut]) + ".asgi")
    for name in candidates:
        if index.find(name):
            return name
    return candidates[0] if candidates else "asgi"


def locate(
    index: ModuleIndex, settings_module: str | None, asgi_setting: str | None, wsgi: str | None
) -> tuple[str, str, bool]:
    """(module, attr, conventional): conventional means the ``<project>.asgi`` default place."""
    default = default_asgi_module(index, settings_module, wsgi)
    if asgi_setting:
        module, attr = split_app_path(asgi_setting)
        return module, attr, module == default
    return default, "application", True


def _local_imports(index: ModuleIndex, module: ModuleFile, tree: ast.Module) -> list[ModuleFile]:
    found: dict[tuple[Path, str], ModuleFile] = {}  # in first-import order
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = absolute_import(module, node)
            if base:
                names.append(base)
                names += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        for name in names:
            target = index.find(name)
            if target and target.path != module.path:
                found.setdefault((target.path, target.name), target)
    return list(found.values())


def _dict_keys(node: ast.AST | None, assignments: dict[str, ast.expr]) -> list[str]:
    if isinstance(node, ast.Name) and node.id in assignments:
        node = assignments[node.id]
    if isinstance(node, ast.Dict):
        return [k for k in (string_constant(key) for key in node.keys) if k]
    return []


def _module_assignments(tree: ast.Module) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value and isinstance(stmt.target, ast.Name):
            found[stmt.target.id] = stmt.value
    return found


class _Facts:
    def __init__(self) -> None:
        self.protocol_router = False
        self.origin_validation = False
        self.channel_names: list[str] = []

    def collect(self, tree: ast.Module) -> None:
        assignments = _module_assignments(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node).rpartition(".")[2]
            if name == "ProtocolTypeRouter":
                self.protocol_router = True
            elif name in ("AllowedHostsOriginValidator", "OriginValidator"):
                self.origin_validation = True
            elif name == "ChannelNameRouter" and node.args:
                for key in _dict_keys(node.args[0], assignments):
                    if key not in self.channel_names:
                        self.channel_names.append(key)


def _follow(index: ModuleIndex, start: ModuleFile) -> _Facts:
    """Collect facts from *start* and the project modules it imports (bounded BFS)."""
    facts = _Facts()
    seen = {start.path}
    queue: deque[tuple[ModuleFile, int]] = deque([(start, 0)])
    while queue and len(seen) <= MAX_FOLLOW_MODULES:
        module, depth = queue.popleft()
        try:
            tree = index.parse(module)
        except SourceError:
            if module is start:
                raise
            continue
        facts.collect(tree)
        if depth < MAX_FOLLOW_DEPTH:
            for target in _local_imports(index, module, tree):
                if target.path not in seen:
                    seen.add(target.path)
                    queue.append((target, depth + 1))
    return facts


def classify(
    index: ModuleIndex, module_name: str, attr: str, conventional: bool, explicit: bool
) -> AsgiInfo:
    """Describe the ASGI module: channels / stock / missing / custom, plus routing facts.

    *explicit* is True when the ``ASGI_APPLICATION`` setting named the module.
    """
    module = index.find(module_name)
    info = AsgiInfo(module=module_name, attr=attr)
    if module is None:
        info.kind = "missing"
        return info
    info.path = index.display(module.path)
    tree = index.parse(module)
    info.settings_default = setdefault_settings_module(tree)
    facts = _follow(index, module)
    info.channels_aware = facts.protocol_router
    info.origin_validation = facts.origin_validation
    info.background_channels = sorted(facts.channel_names)
    if explicit and not conventional:
        info.kind = "custom"
    elif facts.protocol_router:
        info.kind = "channels"
    else:
        info.kind = "stock"
    return info


def _websocket_assignment(tree: ast.Module) -> ast.expr | None:
    return _module_assignments(tree).get(WEBSOCKET_PATTERNS)


def find_websocket_modules(index: ModuleIndex, project_dir: Path) -> list[str]:
    """Modules under *project_dir* defining ``websocket_urlpatterns``, each route once.

    A module that builds its list from others' (``a.websocket_urlpatterns + ...``,
    ``[*a.websocket_urlpatterns, ...]``) stands for the project modules it imports: those
    are not listed again, so the generated router never includes a route twice.
    """
    defining: dict[str, ModuleFile] = {}
    aggregated: set[str] = set()
    scanned = 0
    budget = MAX_SCAN_BYTES
    base_depth = len(project_dir.parts)
    for current, dirs, files in os.walk(project_dir):
        current_path = Path(current)
        depth = len(current_path.parts) - base_depth
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and d != "migrations"
            and depth < MAX_SCAN_DEPTH
            and not (current_path / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if not name.endswith(".py") or name == f"{GENERATED_MODULE}.py":
                continue
            scanned += 1
            if scanned > MAX_SCAN_FILES or budget <= 0:
                return sorted(name for name in defining if name not in aggregated)
            path = current_path / name
            try:
                text = safefs.read_text(path, MAX_SOURCE_BYTES)
            except OSError:  # a FIFO, a directory named x.py, a dangling link, too large...
                continue
            budget -= len(text)
            dotted = index.module_for_path(path) if WEBSOCKET_PATTERNS in text else None
            if dotted is None:
                continue
            module = index.find(dotted)
            if module is None:
                continue
            try:
                tree = index.parse(module)
            except SourceError:
                continue
            value = _websocket_assignment(tree)
            if value is None:
                continue
            defining[dotted] = module
            if not isinstance(value, (ast.List, ast.Tuple)) or any(
                isinstance(e, ast.Starred) for e in value.elts
            ):
                aggregated.update(t.name for t in _local_imports(index, module, tree))
    return sorted(name for name in defining if name not in aggregated)
