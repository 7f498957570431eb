"""``pyproject.toml``: PEP 621 ``[project.dependencies]`` and Poetry's dependency tables."""

from __future__ import annotations

from packaging.utils import canonicalize_name

from buildpack.core.deps.common import (
    DependencyReader,
    Requirement,
    canonical_extras,
    key_line,
    line_of,
    subtable,
    vcs_url,
)


class PyprojectReader(DependencyReader):
    """Reads the dependencies ``pyproject.toml`` declares (PEP 621, Poetry)."""

    def read_pyproject(self) -> None:
        loaded = self.load_toml(self.root / "pyproject.toml")
        if loaded is None:
            return
        data, text = loaded
        where = "pyproject.toml"
        project = subtable(data, "project")
        if "dependencies" in project:
            section = "[project.dependencies]"
            source = f"{where} {section}"
            entries = project["dependencies"]
            if not isinstance(entries, list):
                self.problem(where, line_of(text, "dependencies"), f"{section} is not a list")
            else:
                for entry in entries:
                    line = line_of(text, str(entry))
                    if not isinstance(entry, str):
                        self.problem(where, line, f"{section}: {entry!r} is not a string")
                        continue
                    requirement = self.parse_pep508(entry, source, where, line)
                    if requirement is not None:
                        self.add(self.deps.declared, requirement)
        poetry = subtable(subtable(data, "tool"), "poetry")
        sections = [("[tool.poetry.dependencies]", poetry.get("dependencies"))]
        main_group = subtable(subtable(subtable(poetry, "group"), "main"), "dependencies")
        if main_group:
            sections.append(("[tool.poetry.group.main.dependencies]", main_group))
        for section, table in sections:
            if table is None:
                continue
            if not isinstance(table, dict):
                self.problem(where, line_of(text, section), f"{section} is not a table")
                continue
            self.read_poetry_table(table, section, text)

    def read_poetry_table(self, table: dict[str, object], section: str, text: str) -> None:
        where = "pyproject.toml"
        source = f"{where} {section}"
        for key, value in table.items():
            if key.lower() == "python":
                continue
            line = key_line(text, key, section)
            constraints = value if isinstance(value, list) else [value]
            specifiers: list[str] = []
            markers: list[str] = []
            extras: set[str] = set()
            url = ""
            usable = 0
            for constraint in constraints:
                if isinstance(constraint, str):
                    specifiers.append(constraint.strip())
                    markers.append("")
                    usable += 1
                    continue
                if not isinstance(constraint, dict):
                    self.problem(where, line, f"{section} {key}: unsupported value {constraint!r}")
                    continue
                if constraint.get("optional") is True:
                    continue
                usable += 1
                version = constraint.get("version", "")
                specifiers.append(str(version).strip())
                extras.update(canonical_extras(constraint.get("extras", [])))
                url = url or _poetry_url(constraint)
                parts = []
                if isinstance(constraint.get("markers"), str):
                    parts.append(str(constraint["markers"]))
                if isinstance(constraint.get("platform"), str):
                    parts.append(f'sys_platform == "{constraint["platform"]}"')
                marker = " and ".join(f"({p})" if len(parts) > 1 else p for p in parts)
                markers.append(self.check_marker(marker, where, line, f"{section} {key}"))
            if not usable:
                continue
            specifier = " || ".join(s for s in specifiers if s and s != "*")
            if "" in markers or not markers:
                marker = ""
            elif len(markers) == 1:
                marker = markers[0]
            else:
                marker = " or ".join(f"({m})" for m in markers)
            requirement = Requirement(
                name=canonicalize_name(key),
                specifier=specifier,
                extras=tuple(sorted(extras)),
                marker=marker,
                url=url,
                source=source,
            )
            self.add(self.deps.declared, requirement)


def _poetry_url(table: dict[str, object]) -> str:
    git = table.get("git")
    if isinstance(git, str) and git:
        ref = table.get("rev") or table.get("tag") or table.get("branch")
        return vcs_url(git, ref, table.get("subdirectory"))
    for key in ("url", "path"):
        value = table.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
