"""The dependency rule of ``ARCHITECTURE.md``, read from the source: imports run one way.

Parts, top to bottom (a part imports only the parts below it, and its own):

* commands: ``buildpack.cli``, ``buildpack.__main__``, ``buildpack.commands``: anything;
* public paths: ``buildpack.settings``, ``buildpack.layers``, ``buildpack.apps``: the run
  time (and base) only;
* platforms: ``buildpack.platforms``: the build core and base;
* run time: ``buildpack.runtime``: base, and those modules of the build core that need
  nothing but the standard library (transitively); inside it, launchers > web > ops >
  config > layers > the package root (``aio``), each importing only its level and below;
* core: ``buildpack.core``: base only (never the run time);
* base: ``buildpack`` (``__init__``), ``log``, ``messages``, ``envvars``, ``redact``: nothing
  else of the package.

An import inside a function must say why, ``# late import: <reason>`` (start-up speed, an
optional dependency...), and no import, late or not, closes a cycle.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tests.support import imports
from tests.support.imports import Import
from tests.support.paths import PACKAGE

BASE = {
    "buildpack",
    "buildpack.log",
    "buildpack.messages",
    "buildpack.envvars",
    "buildpack.redact",
}
COMMANDS = ("buildpack.cli", "buildpack.__main__", "buildpack.commands")
PUBLIC = ("buildpack.settings", "buildpack.layers", "buildpack.apps")
# Who may import whom, by part.
ALLOWED = {
    "base": {"base"},
    "core": {"base", "core"},
    "platforms": {"base", "core", "platforms"},
    "runtime": {"base", "core", "runtime"},  # core: its standard-library-only modules
    "public": {"base", "runtime", "public"},
    "commands": {"base", "core", "platforms", "runtime", "public", "commands"},
}
# The run time's levels, top first; the package root (aio) is below them all.
RUNTIME_LEVELS = ("launchers", "web", "ops", "config", "layers")
# Standard library only, and parsable by the oldest system Python bin/detect may meet.
DETECT_MODULES = ("buildpack.core.detect", "buildpack.core.safefs")
MAX_LINES = 500


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def part(name: str) -> str:
    """Which part of the package module *name* belongs to."""
    if name in BASE or _within(name, "buildpack.messages"):
        return "base"
    if any(_within(name, prefix) for prefix in COMMANDS):
        return "commands"
    if any(_within(name, prefix) for prefix in PUBLIC):
        return "public"
    for name_part in ("core", "platforms", "runtime"):
        if _within(name, f"buildpack.{name_part}"):
            return name_part
    raise AssertionError(f"{name} belongs to no part: add it to the rule and ARCHITECTURE.md")


def runtime_level(name: str) -> int:
    """The level of a run-time module: higher imports lower (the root is 0)."""
    for rank, level in enumerate(RUNTIME_LEVELS):
        if _within(name, f"buildpack.runtime.{level}"):
            return len(RUNTIME_LEVELS) - rank
    return 0


def stdlib_only(package: Path) -> set[str]:
    """The modules that need nothing but the standard library, through all their imports."""
    found = imports.modules(package)
    edges = imports.graph(package)
    needs: dict[str, set[str]] = {name: set() for name in found}
    for edge in edges:
        needs[edge.importer].add(edge.imported)
    plain = {name for name, path in found.items() if not imports.third_party(path, "buildpack")}
    while True:  # drop every module that needs one that is not plain, until nothing changes
        dropped = {name for name in plain if not needs[name] <= plain}
        if not dropped:
            return plain
        plain -= dropped


def violations(edges: list[Import], plain: set[str]) -> list[str]:
    """Every import that breaks the rule, as ``importer:line -> imported (why)``."""
    found = []
    for edge in edges:
        source, target = part(edge.importer), part(edge.imported)
        why = ""
        if target not in ALLOWED[source]:
            why = f"{source} may not import {target}"
        elif source == "runtime" and target == "core" and edge.imported not in plain:
            why = "the run time may use only standard-library-only core modules"
        elif source == target == "runtime" and (
            runtime_level(edge.imported) > runtime_level(edge.importer)
        ):
            why = "a lower run-time level may not import a higher one"
        elif edge.late and not edge.type_only and not edge.reason:
            why = "an import inside a function needs '# late import: <reason>'"
        if why:
            found.append(f"{edge.importer}:{edge.line} -> {edge.imported} ({why})")
    return found


def test_imports_follow_the_dependency_rule() -> None:
    found = violations(imports.graph(PACKAGE), stdlib_only(PACKAGE))
    assert not found, "imports against the rule (ARCHITECTURE.md):\n" + "\n".join(found)


def test_no_import_closes_a_cycle() -> None:
    found = imports.cycles(imports.graph(PACKAGE))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_rule_catches_each_kind_of_violation() -> None:
    plain = {"buildpack.core.procfile"}

    def edge(importer: str, imported: str, late: bool = False, reason: str = "") -> Import:
        return Import(importer, imported, 1, late, False, reason)

    bad = [
        edge("buildpack.core.build", "buildpack.runtime.config.settings"),
        edge("buildpack.platforms.cnb", "buildpack.runtime.layers"),
        edge("buildpack.runtime.config.hosts", "buildpack.runtime.web.forwarded"),
        edge("buildpack.runtime.ops.diagnose", "buildpack.commands.doctor"),
        edge("buildpack.runtime.ops.status", "buildpack.core.analysis"),
        edge("buildpack.messages", "buildpack.core.plan"),
        edge("buildpack.runtime.web.daphne", "buildpack.runtime.launchers.bootstrap", late=True),
    ]
    good = [
        edge("buildpack.runtime.layers.formation", "buildpack.core.procfile"),
        edge("buildpack.runtime.launchers.web", "buildpack.runtime.ops.heartbeat", True, "speed"),
        edge("buildpack.commands.doctor", "buildpack.runtime.ops.diagnose", True, "--static"),
        edge("buildpack.settings", "buildpack.runtime.config.settings"),
    ]
    assert len(violations(bad, plain)) == len(bad)
    assert violations(good, plain) == []
    assert imports.cycles(
        [edge("buildpack.core.a", "buildpack.core.b"), edge("buildpack.core.b", "buildpack.core.a")]
    ) == [["buildpack.core.a", "buildpack.core.b"]]


@pytest.mark.parametrize(
    ("module", "added", "expected"),
    [
        (
            "core/plan.py",
            "from buildpack.runtime.config import settings\n",
            "buildpack.core.plan:{line} -> buildpack.runtime.config.settings "
            "(core may not import runtime)",
        ),
        (
            "runtime/layers/limits.py",
            "def _f():\n    from buildpack.runtime.web import forwarded\n",
            "buildpack.runtime.layers.limits:{line} -> buildpack.runtime.web.forwarded "
            "(a lower run-time level may not import a higher one)",
        ),
    ],
    ids=["core-imports-runtime", "late-upward-import"],
)
def test_a_forbidden_import_added_to_the_real_source_is_caught(
    tmp_path: Path, module: str, added: str, expected: str
) -> None:
    copy = tmp_path / "buildpack"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert violations(imports.graph(copy), stdlib_only(copy)) == []
    path = copy / module
    line = len(path.read_text(encoding="utf-8").splitlines()) + added.count("\n")
    path.write_text(path.read_text(encoding="utf-8") + added, encoding="utf-8")

    found = violations(imports.graph(copy), stdlib_only(copy))
    assert expected.format(line=line) in found
    assert all(f":{line} -> " in violation for violation in found), found


def test_every_module_belongs_to_a_part_and_says_what_it_holds() -> None:
    for name, path in imports.modules(PACKAGE).items():
        part(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{name} has no docstring"


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in imports.modules(PACKAGE).items()
    }
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


@pytest.mark.parametrize("name", DETECT_MODULES)
def test_what_bin_detect_runs_needs_only_an_old_standard_library(name: str) -> None:
    path = imports.modules(PACKAGE)[name]
    ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 6))
    assert imports.third_party(path, "buildpack") == set()
    own = {edge.imported for edge in imports.graph(PACKAGE) if edge.importer == name}
    assert own <= {"buildpack", "buildpack.core", *DETECT_MODULES}


def test_the_base_modules_stand_alone() -> None:
    plain = stdlib_only(PACKAGE)
    for name in imports.modules(PACKAGE):
        if part(name) == "base":
            assert name in plain, f"{name} must need the standard library only"
