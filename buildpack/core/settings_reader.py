"""Static reading of a Django settings module (never imported).

The reader walks the module's top-level statements like a tiny interpreter that only
understands what settings files do: literal assignments, ``+=``, ``.append()``/``.insert()``
on lists, ``if``/``try`` branches (both taken, values merged), and ``from X import *``
(settings packages). Each setting keeps every value it *might* have (its candidates), so
``CHANNEL_LAYERS = redis if REDIS_URL else memory`` yields both backends. Partial updates
(``DATABASES["default"] = dj_database_url.config()``, ``.update(...)``) add their expression
as one more candidate, so the env vars and engines they name are seen.

Settings files are untrusted input, so the reading is bounded: a setting keeps at most
``MAX_CANDIDATES`` values, a folded value at most ``MAX_VALUE_NODES`` elements (bigger ones
become unknown), and a whole read at most ``WORK_BUDGET`` steps; a file beyond that (or
nested deeper than the interpreter's recursion limit) is reported as too complex.
"""

from __future__ import annotations

import ast
import copy
from collections import ChainMap, deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from buildpack.core.plan import DatabaseSetting, LayerSetting, SettingsInfo
from buildpack.core.pysource import (
    TOO_COMPLEX,
    ModuleFile,
    ModuleIndex,
    SourceTooComplex,
    absolute_import,
    env_vars_read,
)

MAX_IMPORT_DEPTH = 8
MAX_CANDIDATES = 32
MAX_VALUE_NODES = 10_000
MAX_STRING_CHARS = 100_000
WORK_BUDGET = 200_000  # steps: ~1 s; real settings take a few thousand
_MAX_FOLLOWED_EXPRESSIONS = 50


class _Unknown:
    """A value static reading cannot know (a call, an env lookup...)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


@dataclass
class Candidate:
    """One possible value of a setting, with where it was assigned."""

    node: ast.expr | None
    value: Any
    file: str
    line: int


Namespace = MutableMapping[str, list[Candidate]]


class SettingsNotFound(Exception):
    """The settings module named by manage.py / the config var has no file."""


class _TooComplex(Exception):
    """The work budget of one settings read is spent."""


class _Budget:
    """Counts the steps of one settings read; raises :class:`_TooComplex` past the limit."""

    def __init__(self, limit: int = WORK_BUDGET) -> None:
        self.left = limit

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise _TooComplex


class _Reader:
    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self.files: list[str] = []
        self._stack: list[str] = []
        self.budget = _Budget()

    # -- modules -------------------------------------------------------------------------

    def run_module(self, module: ModuleFile, ns: Namespace) -> None:
        if module.name in self._stack or len(self._stack) >= MAX_IMPORT_DEPTH:
            return
        tree = self.index.parse(module)
        display = self.index.display(module.path)
        if display not in self.files:
            self.files.append(display)
        self._stack.append(module.name)
        try:
            self._block(tree.body, ns, module)
        except (_TooComplex, RecursionError, MemoryError) as exc:
            raise SourceTooComplex(display, None, TOO_COMPLEX) from exc
        finally:
            self._stack.pop()

    # -- statements ----------------------------------------------------------------------

    def _block(self, body: list[ast.stmt], ns: Namespace, module: ModuleFile) -> None:
        for stmt in body:
            self._stmt(stmt, ns, module)

    def _stmt(self, stmt: ast.stmt, ns: Namespace, module: ModuleFile) -> None:
        self.budget.spend()
        if isinstance(stmt, ast.Assign):
            self._assign(stmt, ns, module)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value and isinstance(stmt.target, ast.Name):
            ns[stmt.target.id] = self._candidates(stmt.value, ns, module)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._augment(stmt, ns, module)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call_statement(stmt.value, ns, module)
        elif isinstance(stmt, ast.If):
            self._branches([stmt.body, stmt.orelse], ns, module)
        elif isinstance(stmt, ast.Try):
            main = [*stmt.body, *stmt.orelse]
            self._branches([main, *(h.body for h in stmt.handlers)], ns, module)
            self._block(stmt.finalbody, ns, module)
        elif isinstance(stmt, ast.With):
            self._block(stmt.body, ns, module)
        elif isinstance(stmt, ast.ImportFrom):
            self._import_from(stmt, ns, module)

    def _assign(self, stmt: ast.Assign, ns: Namespace, module: ModuleFile) -> None:
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                ns[target.id] = self._candidates(stmt.value, ns, module)
            elif isinstance(target, ast.Subscript):  # DATABASES["default"] = ...
                self._partial_update(_subscript_root(target), stmt.value, ns, module)

    def _call_statement(self, call: ast.Call, ns: Namespace, module: ModuleFile) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "update":
            for arg in call.args:  # DATABASES["default"].update(db_from_env)
                self._partial_update(_subscript_root(func.value), arg, ns, module)
        else:
            self._mutating_call(call, ns)

    def _branches(self, bodies: list[list[ast.stmt]], ns: Namespace, module: ModuleFile) -> None:
        changes: list[MutableMapping[str, list[Candidate]]] = []
        for body in bodies:  # each branch writes to its own layer over *ns* (lists are replaced,
            branch = ChainMap[str, list[Candidate]]({}, ns)  # never mutated in place)
            self._block(body, branch, module)
            changes.append(branch.maps[0])
        for key in {k for changed in changes for k in changed}:
            self.budget.spend(len(changes))
            merged: list[Candidate] = []
            for changed in changes:
                for cand in changed.get(key, ns.get(key, [])):
                    if all(cand is not m for m in merged):
                        merged.append(cand)
            ns[key] = merged[:MAX_CANDIDATES]

    def _import_from(self, stmt: ast.ImportFrom, ns: Namespace, module: ModuleFile) -> None:
        target_name = absolute_import(module, stmt)
        target = self.index.find(target_name) if target_name else None
        if target is None:
            return
        if any(alias.name == "*" for alias in stmt.names):
            self.run_module(target, ns)
            return
        imported: Namespace = {}
        self.run_module(target, imported)
        for alias in stmt.names:
            if alias.name in imported:
                ns[alias.asname or alias.name] = imported[alias.name]

    def _augment(self, stmt: ast.AugAssign, ns: Namespace, module: ModuleFile) -> None:
        assert isinstance(stmt.target, ast.Name)
        name = stmt.target.id
        additions = self._candidates(stmt.value, ns, module)
        current = ns.get(name) or [Candidate(None, UNKNOWN, "", 0)]
        combined = []
        for cand in current:
            for extra in additions:
                if isinstance(stmt.op, ast.Add):
                    value = _capped(_add(cand.value, extra.value), self.budget)
                else:
                    value = UNKNOWN
                combined.append(Candidate(cand.node, value, cand.file, cand.line))
        ns[name] = combined[:MAX_CANDIDATES]

    def _partial_update(
        self, name: str | None, value: ast.expr, ns: Namespace, module: ModuleFile
    ) -> None:
        """Part of a known setting is replaced: its value becomes unknown, and *value* (an
        env lookup, a BACKEND/ENGINE dict) is kept as one more candidate to inspect."""
        if name is None or name not in ns:
            return
        display = self.index.display(module.path)
        ns[name] = [*ns[name], Candidate(value, UNKNOWN, display, value.lineno)][:MAX_CANDIDATES]

    def _mutating_call(self, call: ast.Call, ns: Namespace) -> None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        name, method = func.value.id, func.attr
        if name not in ns or method not in ("append", "insert", "extend", "remove"):
            return
        args = [_literal(a, ns, self.budget) for a in call.args]
        updated = []
        for cand in ns[name]:
            value = copy.copy(cand.value)
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, list):
                _apply_list_method(value, method, args)
                value = _capped(value, self.budget)
            updated.append(Candidate(cand.node, value, cand.file, cand.line))
        ns[name] = updated

    # -- expressions ---------------------------------------------------------------------

    def _candidates(self, node: ast.expr, ns: Namespace, module: ModuleFile) -> list[Candidate]:
        if isinstance(node, ast.IfExp):
            both = self._candidates(node.body, ns, module)
            return (both + self._candidates(node.orelse, ns, module))[:MAX_CANDIDATES]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            found: list[Candidate] = []
            for value in node.values:
                found += self._candidates(value, ns, module)
            return found[:MAX_CANDIDATES]
        display = self.index.display(module.path)
        return [Candidate(node, _literal(node, ns, self.budget), display, node.lineno)]


def _literal(node: ast.expr, ns: Namespace, budget: _Budget) -> Any:
    """Best-effort constant folding: literals, known names, list/tuple/dict displays, ``+``."""
    budget.spend()
    try:
        return _capped(ast.literal_eval(node), budget)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Name):
        cands = ns.get(node.id, [])
        return cands[0].value if len(cands) == 1 else UNKNOWN
    if isinstance(node, (ast.List, ast.Tuple)):
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):  # [*BASE_APPS, "chat"]
                spread = _literal(element.value, ns, budget)
                items += spread if isinstance(spread, (list, tuple)) else [UNKNOWN]
            else:
                items.append(_literal(element, ns, budget))
        return _capped(items if isinstance(node, ast.List) else tuple(items), budget)
    if isinstance(node, ast.Dict):
        folded: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            key = _literal(k, ns, budget) if k is not None else UNKNOWN
            folded[key if _hashable(key) else UNKNOWN] = _literal(v, ns, budget)
        return _capped(folded, budget)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, ns, budget), _literal(node.right, ns, budget)
        return _capped(_add(left, right), budget)
    return UNKNOWN


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:  # {[1]: 2}: a list as a key (the app would crash; we must not)
        return False
    return True


def _capped(value: Any, budget: _Budget) -> Any:
    """*value*, or UNKNOWN when it is too big to keep (``X = [X, X]`` doubling, ``S + S``)."""
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING_CHARS else UNKNOWN
    if not isinstance(value, (list, tuple, dict)):
        return value
    pending: list[Any] = [value]
    seen = 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > MAX_VALUE_NODES:
            budget.spend(seen // 10)
            return UNKNOWN
        if isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, (list, tuple)):
            pending += item
        elif isinstance(item, str) and len(item) > MAX_STRING_CHARS:
            budget.spend(seen // 10)
            return UNKNOWN
    budget.spend(seen // 10)
    return value


def _subscript_root(node: ast.expr) -> str | None:
    """``DATABASES`` for ``DATABASES["default"]["NAME"]`` (and for ``DATABASES`` itself)."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return [*left, *right]
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    return UNKNOWN


def _apply_list_method(value: list[Any], method: str, args: list[Any]) -> None:
    if method == "append" and len(args) == 1:
        value.append(args[0])
    elif method == "insert" and len(args) == 2 and isinstance(args[0], int):
        value.insert(args[0], args[1])
    elif method == "extend" and len(args) == 1 and isinstance(args[0], (list, tuple)):
        value.extend(args[0])
    elif method == "remove" and len(args) == 1 and args[0] in value:
        value.remove(args[0])


# -- public API ------------------------------------------------------------------------------


def read_namespace(index: ModuleIndex, module_name: str) -> tuple[Namespace, list[str]]:
    """Statically evaluate *module_name*; return its namespace and the files read."""
    module = index.find(module_name)
    if module is None:
        raise SettingsNotFound(module_name)
    reader = _Reader(index)
    ns: Namespace = {}
    reader.run_module(module, ns)
    return ns, reader.files


def read_settings(index: ModuleIndex, module_name: str, source: str) -> SettingsInfo:
    """Read the settings that shape a deployment into a :class:`SettingsInfo`.

    Raises :class:`~buildpack.core.pysource.SourceError` for unparsable files and
    :class:`SettingsNotFound` when the module has no file.
    """
    ns, files = read_namespace(index, module_name)
    return SettingsInfo(
        module=module_name,
        source=source,
        files=files,
        installed_apps=_string_list(ns.get("INSTALLED_APPS")),
        asgi_application=_first_string(ns.get("ASGI_APPLICATION")),
        wsgi_application=_first_string(ns.get("WSGI_APPLICATION")),
        channel_layers=_layer_setting(ns),
        databases=_database_setting(ns),
        secure_proxy_ssl_header="SECURE_PROXY_SSL_HEADER" in ns,
    )


def _string_list(cands: list[Candidate] | None) -> list[str] | None:
    if not cands:
        return None
    apps: list[str] = []
    for cand in cands:
        if isinstance(cand.value, (list, tuple)):
            apps.extend(v for v in cand.value if isinstance(v, str) and v not in apps)
    return apps


def _first_string(cands: list[Candidate] | None) -> str | None:
    for cand in cands or []:
        if isinstance(cand.value, str):
            return cand.value
    return None


def _constants_under_key(node: ast.AST, key: str) -> list[str]:
    found: list[str] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Dict):
            for k, v in zip(sub.keys, sub.values, strict=True):
                matches = isinstance(k, ast.Constant) and k.value == key
                if matches and isinstance(v, ast.Constant) and isinstance(v.value, str):
                    found.append(v.value)
    return found


def _values_under_key(value: Any, key: str) -> list[str]:
    """String values stored under *key* in a folded value (``{"BACKEND": NAME}`` included)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key and isinstance(v, str):
                found.append(v)
            else:
                found += _values_under_key(v, key)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += _values_under_key(item, key)
    return found


def _expressions(cands: list[Candidate], ns: Namespace) -> list[ast.AST]:
    """The candidates' expressions and those of module-level names they use (transitively).

    ``CHANNEL_LAYERS = redis if REDIS_URL else memory`` needs two steps: the name ``redis``,
    then the ``REDIS_URL = os.environ.get(...)`` it refers to.
    """
    nodes: list[ast.AST] = []
    seen: set[int] = set()
    pending = deque(cand for cand in cands if cand.node is not None)
    followed: set[str] = set()
    while pending and len(nodes) < _MAX_FOLLOWED_EXPRESSIONS:
        cand = pending.popleft()
        if cand.node is None or id(cand.node) in seen:
            continue
        seen.add(id(cand.node))
        nodes.append(cand.node)
        for sub in ast.walk(cand.node):
            if isinstance(sub, ast.Name) and sub.id not in followed:  # each name once
                followed.add(sub.id)
                pending += ns.get(sub.id, [])
    return nodes


def _env_vars(nodes: list[ast.AST]) -> list[str]:
    """Env vars read by *nodes* (see :func:`_expressions`)."""
    names: list[str] = []
    for node in nodes:
        names += env_vars_read(node)
    return list(dict.fromkeys(names))


def _constants(cands: list[Candidate], nodes: list[ast.AST], key: str) -> list[str]:
    found: list[str] = []
    for node in nodes:
        found += _constants_under_key(node, key)
    for cand in cands:
        found += _values_under_key(cand.value, key)
    return list(dict.fromkeys(found))


def _is_dynamic(cands: list[Candidate]) -> bool:
    return len(cands) > 1 or any(_contains_unknown(c.value) for c in cands)


def _contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(k) or _contains_unknown(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_unknown(v) for v in value)
    return False


def _dict_setting_facts(
    ns: Namespace, name: str, key: str
) -> tuple[list[str], list[str], bool] | None:
    """(string values under *key*, env vars read, dynamic?) for a dict setting like DATABASES."""
    cands = ns.get(name)
    if not cands:
        return None
    nodes = _expressions(cands, ns)
    return _constants(cands, nodes, key), _env_vars(nodes), _is_dynamic(cands)


def _layer_setting(ns: Namespace) -> LayerSetting | None:
    facts = _dict_setting_facts(ns, "CHANNEL_LAYERS", "BACKEND")
    if facts is None:
        return None
    backends, env, dynamic = facts
    cands = ns["CHANNEL_LAYERS"]
    routing = _constants(cands, _expressions(cands, ns), "ROUTING")
    return LayerSetting(
        backends=backends, reads_env=bool(env), env_vars=env, dynamic=dynamic, routing=routing
    )


def _database_setting(ns: Namespace) -> DatabaseSetting | None:
    facts = _dict_setting_facts(ns, "DATABASES", "ENGINE")
    if facts is None:
        return None
    engines, env, dynamic = facts
    return DatabaseSetting(engines=engines, reads_env=bool(env), env_vars=env, dynamic=dynamic)
