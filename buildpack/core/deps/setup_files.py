"""setuptools metadata: ``setup.cfg`` ``install_requires`` and ``setup.py`` (AST, never run)."""

from __future__ import annotations

import ast
import configparser
import re

from buildpack.core.deps.common import (
    COMMENT_RE,
    DependencyReader,
    first_line,
    line_of,
)


class SetupReader(DependencyReader):
    """Reads ``install_requires`` from ``setup.cfg`` and ``setup.py``."""

    def read_setup_cfg(self) -> None:
        where = "setup.cfg"
        text = self.read_text(self.root / where)
        if text is None:
            return
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=where)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            errors = getattr(exc, "errors", None)
            if line is None and errors:
                line = errors[0][0]
            self.problem(where, line, f"cannot parse: {first_line(exc)}")
            return
        value = parser.get("options", "install_requires", fallback=None)
        if value is None:
            return
        lines = text.splitlines()
        start = 0
        for index, raw in enumerate(lines):
            if re.match(r"\s*install_requires\s*[=:]", raw):
                start = index
                break
        source = f"{where} [options] install_requires"
        for raw_entry in value.splitlines():
            entry = COMMENT_RE.sub("", raw_entry).strip()
            if not entry or entry.startswith(("#", ";")):
                continue
            line = line_of("\n".join(lines[start:]), entry)
            line = line + start if line else None
            requirement = self.parse_pep508(entry, source, where, line)
            if requirement is not None:
                self.add(self.deps.declared, requirement)

    def read_setup_py(self) -> None:
        where = "setup.py"
        text = self.read_text(self.root / where)
        if text is None:
            return
        try:
            tree = ast.parse(text, filename=where)
        except SyntaxError as exc:
            self.problem(
                where, exc.lineno, f"syntax error ({exc.msg}); cannot read install_requires"
            )
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            self.problem(where, None, f"cannot parse ({first_line(exc)}); not read")
            return
        entries = self.setup_py_entries(tree)
        source = f"{where} install_requires"
        for entry, line in entries:
            if not isinstance(entry, str):
                self.problem(
                    where, line, "install_requires entry is computed; cannot read it statically"
                )
                continue
            text = COMMENT_RE.sub("", entry).strip()
            if text:
                requirement = self.parse_pep508(text, source, where, line)
                if requirement is not None:
                    self.add(self.deps.declared, requirement)

    def setup_py_entries(self, tree: ast.Module) -> list[tuple[object, int]]:
        """``(string or None if computed, line)`` for each ``install_requires`` entry."""
        where = "setup.py"
        call = _find_setup_call(tree)
        if call is None:
            return []
        keyword = next((k for k in call.keywords if k.arg == "install_requires"), None)
        if keyword is None:
            if any(k.arg is None for k in call.keywords):
                self.problem(
                    where,
                    call.lineno,
                    "setup() takes **kwargs; install_requires cannot be read statically",
                )
            return []
        node: ast.expr | None = keyword.value
        if isinstance(node, ast.Name):
            node = _module_literal(tree, node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [(line, node.lineno) for line in node.value.splitlines()]
        if isinstance(node, (ast.List, ast.Tuple)):
            return [
                (elt.value if isinstance(elt, ast.Constant) else None, elt.lineno)
                for elt in node.elts
            ]
        self.problem(
            where, keyword.value.lineno, "install_requires is computed; cannot read it statically"
        )
        return []


def _find_setup_call(tree: ast.Module) -> ast.Call | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "setup")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "setup")
        )
    ]
    return min(calls, key=lambda c: (c.lineno, c.col_offset)) if calls else None


def _module_literal(tree: ast.Module, name: str) -> ast.expr | None:
    """The value of ``name = [...]`` if it is the one module-level binding of *name*."""
    values: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    values.append(node.value if node in tree.body else None)
                elif isinstance(target, (ast.Tuple, ast.List)) and any(
                    isinstance(e, ast.Name) and e.id == name for e in target.elts
                ):
                    values.append(None)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                simple = isinstance(node, ast.AnnAssign) and node in tree.body
                values.append(node.value if simple else None)
        elif name in _bound_names(node):
            values.append(None)
    if len(values) != 1 or values[0] is None:
        return None
    value = values[0]
    if isinstance(value, (ast.List, ast.Tuple)) or (
        isinstance(value, ast.Constant) and isinstance(value.value, str)
    ):
        return value
    return None


def _bound_names(node: ast.AST) -> set[str]:
    """Names bound by ``for``, ``with ... as``, ``:=`` and imports."""
    targets: list[ast.AST] = []
    if isinstance(node, ast.For):
        targets = [node.target]
    elif isinstance(node, ast.With):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    elif isinstance(node, ast.NamedExpr):
        targets = [node.target]
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
