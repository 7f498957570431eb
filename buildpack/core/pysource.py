"""Reading Python source without running it: parsing, module lookup, small AST helpers.

Everything here is static. User code is parsed with :mod:`ast` and never imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack.core import safefs

MAX_SOURCE_BYTES = 2 * 1024 * 1024

# Calls that read one environment variable, by the dotted name of the callee.
_ENV_GETTERS = frozenset(
    {
        "os.environ.get",
        "os.getenv",
        "environ.get",
        "getenv",
        "os.environ.setdefault",
        "env",
        "env.str",
        "env.bool",
        "env.int",
        "env.list",
        "env.url",
        "env.db",
        "env.db_url",
        "env.cache",
        "config",
        "decouple.config",
    }
)
# Calls that read DATABASE_URL implicitly when given no name.
_IMPLICIT_DATABASE_URL = frozenset({"dj_database_url.config", "env.db", "env.db_url", "db_url"})


class SourceError(Exception):
    """A user source file that cannot be read or parsed; carries file and line for the log."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


class SourceTooComplex(SourceError):
    """A file too long or too deeply nested to analyse (RecursionError, MemoryError...)."""


TOO_COMPLEX = "too long or too deeply nested to analyse"


def parse_file(path: Path, display: str) -> ast.Module:
    """Parse *path*; raise :class:`SourceError` (never SyntaxError) naming *display*."""
    try:
        source = safefs.read_bytes(path, MAX_SOURCE_BYTES)
    except safefs.FileTooLarge as exc:
        raise SourceError(display, None, "file is larger than 2 MB; not analysed") from exc
    except OSError as exc:
        raise SourceError(display, None, f"cannot read ({exc.strerror or exc})") from exc
    try:
        return ast.parse(source, filename=display)
    except SyntaxError as exc:
        raise SourceError(display, exc.lineno, f"SyntaxError: {exc.msg}") from exc
    except (RecursionError, MemoryError) as exc:
        raise SourceTooComplex(display, None, TOO_COMPLEX) from exc
    except ValueError as exc:  # null bytes, undecodable source
        raise SourceError(display, None, f"cannot parse: {str(exc)[:200]}") from exc


@dataclass(frozen=True)
class ModuleFile:
    """A module found on disk: its dotted name, file, and whether it is a package."""

    name: str
    path: Path
    is_package: bool


class ModuleIndex:
    """Resolve dotted module names to files under the app's import roots.

    The import roots are the project directory (where ``manage.py`` lives, which is the
    working directory at run time) and the app root (heroku/python puts ``$HOME`` on
    ``PYTHONPATH``).
    """

    def __init__(self, roots: Sequence[Path], app_root: Path) -> None:
        self.roots = list(dict.fromkeys(r.resolve() for r in roots))
        self.app_root = app_root.resolve()
        self._cache: dict[str, ModuleFile | None] = {}
        self._trees: dict[Path, ast.Module] = {}
        self._displays: dict[Path, str] = {}

    def find(self, dotted: str) -> ModuleFile | None:
        """The file for *dotted* (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), or None."""
        if dotted in self._cache:
            return self._cache[dotted]
        found = None
        if dotted and all(part.isidentifier() for part in dotted.split(".")):
            found = self._find(dotted.split("."))
        self._cache[dotted] = found
        return found

    def _find(self, parts: list[str]) -> ModuleFile | None:
        dotted = ".".join(parts)
        for root in self.roots:
            package = root.joinpath(*parts, "__init__.py")
            module = root.joinpath(*parts[:-1], parts[-1] + ".py")
            try:
                if package.is_file():
                    return ModuleFile(dotted, package, True)
                if module.is_file():
                    return ModuleFile(dotted, module, False)
            except OSError:  # a name too long for the file system, a permission...
                continue
        return None

    def display(self, path: Path) -> str:
        """Path relative to the app root, POSIX style, for logs and the plan."""
        shown = self._displays.get(path)
        if shown is None:
            try:
                shown = path.resolve().relative_to(self.app_root).as_posix()
            except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
                shown = path.as_posix()
            self._displays[path] = shown
        return shown

    def parse(self, module: ModuleFile) -> ast.Module:
        """Parse (and cache) a module's AST."""
        tree = self._trees.get(module.path)
        if tree is None:
            tree = parse_file(module.path, self.display(module.path))
            self._trees[module.path] = tree
        return tree

    def module_for_path(self, path: Path) -> str | None:
        """Dotted name of a file under one of the roots (None when outside them)."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return None
        for root in self.roots:
            try:
                rel = resolved.relative_to(root)
            except ValueError:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                return ".".join(parts)
        return None


def absolute_import(current: ModuleFile, node: ast.ImportFrom) -> str | None:
    """The absolute module named by ``from X import ...`` inside *current*."""
    if not node.level:
        return node.module
    package_parts = current.name.split(".")
    if not current.is_package:
        package_parts = package_parts[:-1]
    up = node.level - 1
    if up >= len(package_parts):  # beyond the top-level package: ImportError in Python
        return None
    base = package_parts[: len(package_parts) - up] if up else package_parts
    if node.module:
        base = [*base, *node.module.split(".")]
    return ".".join(base) or None


def dotted_name(node: ast.AST) -> str:
    """``os.environ.get`` for an Attribute/Name chain, ``""`` for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def call_name(node: ast.Call) -> str:
    """Dotted name of the called function (``""`` when it is not a plain name chain)."""
    return dotted_name(node.func)


def string_constant(node: ast.AST | None) -> str | None:
    """The value of a string literal node, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def iter_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Every call expression in *tree*."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def env_vars_read(tree: ast.AST) -> list[str]:
    """Names of environment variables *tree* reads (``os.environ.get("X")``, ``env("X")``...)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = call_name(node)
            first = string_constant(node.args[0]) if node.args else None
            if name in _ENV_GETTERS and first:
                names.append(first)
            elif name in _IMPLICIT_DATABASE_URL:
                keyword = next((k for k in node.keywords if k.arg in ("env", "var")), None)
                implicit = string_constant(keyword.value) if keyword else "DATABASE_URL"
                if implicit:
                    names.append(implicit)
        elif isinstance(node, ast.Subscript) and dotted_name(node.value) in (
            "os.environ",
            "environ",
        ):
            key = string_constant(node.slice)
            if key:
                names.append(key)
    return list(dict.fromkeys(n for n in names if n))


def setdefault_settings_module(tree: ast.Module) -> str | None:
    """The ``DJANGO_SETTINGS_MODULE`` a script sets (``os.environ.setdefault()`` or assignment)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and call_name(node).endswith("environ.setdefault")
            and len(node.args) == 2
            and string_constant(node.args[0]) == "DJANGO_SETTINGS_MODULE"
        ):
            value = string_constant(node.args[1])
            if value:
                return value
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if (
                isinstance(target, ast.Subscript)
                and dotted_name(target.value).endswith("environ")
                and string_constant(target.slice) == "DJANGO_SETTINGS_MODULE"
            ):
                value = string_constant(node.value)
                if value:
                    return value
    return None
