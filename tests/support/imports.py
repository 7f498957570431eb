"""The package's import graph, read from the source (nothing is imported): who imports whom,
at module level or inside a function, and whether a late import says why.

Used by ``tests/unit/test_architecture.py`` to hold the package to the dependency rule of
``ARCHITECTURE.md``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

LATE_MARKER = "# late import:"


@dataclass(frozen=True)
class Import:
    """One ``import``/``from ... import`` of a module by another."""

    importer: str  # dotted module name
    imported: str  # dotted module name (a package's submodule when the import names one)
    line: int
    late: bool  # inside a function (runs when called, not when the module loads)
    type_only: bool  # under ``if TYPE_CHECKING:`` (never runs)
    reason: str  # what follows LATE_MARKER on the import's line or the line above; "" if none


def module_name(path: Path, root: Path) -> str:
    """``buildpack/runtime/web/daphne.py`` -> ``buildpack.runtime.web.daphne``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path) -> dict[str, Path]:
    """Every module of *package* (a directory), by dotted name."""
    root = package.parent
    return {
        module_name(path, root): path
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _reason(lines: list[str], first: ast.stmt) -> str:
    """The marker's reason, from the line of *first* or the comment right above it (which may
    go on over several lines); "" when there is none."""
    if LATE_MARKER in lines[first.lineno - 1]:
        return lines[first.lineno - 1].split(LATE_MARKER, 1)[1].strip()
    comment: list[str] = []
    number = first.lineno - 1
    while number >= 1 and lines[number - 1].strip().startswith("#"):
        comment.insert(0, lines[number - 1].strip().lstrip("#").strip())
        number -= 1
    text = " ".join(comment)
    marker = LATE_MARKER.lstrip("#").strip()
    return text.split(marker, 1)[1].strip() if marker in text else ""


def _run_starts(body: list[ast.stmt]) -> dict[int, ast.stmt]:
    """For each import statement of *body* (by ``id``), the first statement of the run of
    import statements it belongs to: one marker above a run covers all of it."""
    starts: dict[int, ast.stmt] = {}
    previous: ast.stmt | None = None
    start: ast.stmt | None = None
    for statement in body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            joined = (
                isinstance(previous, ast.Import | ast.ImportFrom)
                and previous.end_lineno == statement.lineno - 1
            )
            start = start if joined and start is not None else statement
            starts[id(statement)] = start
        previous = statement
    return starts


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer if is_package else importer.rpartition(".")[0]
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    # ``from pkg import sub`` imports the submodule pkg.sub when there is one
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """The imports module *name* (at *path*) makes of the modules in *known*."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, late: bool, type_only: bool) -> None:
        starts: dict[int, ast.stmt] = {}
        for field in ("body", "orelse", "finalbody", "handlers"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                starts.update(_run_starts([s for s in body if isinstance(s, ast.stmt)]))
        for child in ast.iter_child_nodes(node):
            child_late = late or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            child_type_only = type_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, name, path.name == "__init__.py"):
                    if target in known and target != name:
                        reason = _reason(lines, starts.get(id(child), child))
                        found.append(Import(name, target, child.lineno, late, type_only, reason))
            visit(child, child_late, child_type_only)

    visit(ast.parse(source, str(path)), late=False, type_only=False)
    return found


def graph(package: Path) -> list[Import]:
    """Every import between the modules of *package*."""
    found = modules(package)
    known = set(found)
    return [imp for name, path in found.items() for imp in imports_of(name, path, known)]


def third_party(path: Path, package: str) -> set[str]:
    """Top-level names of what *path* imports (anywhere in it) that is neither the standard
    library nor *package*."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n != package and n not in sys.stdlib_module_names}


def cycles(edges: list[Import]) -> list[list[str]]:
    """Every strongly connected group of more than one module (an import cycle)."""
    successors: dict[str, set[str]] = {}
    for edge in edges:
        successors.setdefault(edge.importer, set()).add(edge.imported)
        successors.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(successors[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(successors):
        if node not in index:
            connect(node)
    return sorted(groups)
