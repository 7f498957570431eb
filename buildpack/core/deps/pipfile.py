"""Pipenv: ``Pipfile`` declarations and the versions ``Pipfile.lock`` pins."""

from __future__ import annotations

import json

from packaging.utils import canonicalize_name

from buildpack.core.deps.common import (
    MAX_LOCK_FILE_BYTES,
    DependencyReader,
    Requirement,
    canonical_extras,
    key_line,
    line_of,
    vcs_url,
)

# Pipfile entries may carry marker variables as keys: ``sys_platform = "== 'win32'"``.
_MARKER_VARIABLES = frozenset(
    {
        "os_name",
        "sys_platform",
        "platform_machine",
        "platform_python_implementation",
        "platform_release",
        "platform_system",
        "platform_version",
        "python_version",
        "python_full_version",
        "implementation_name",
        "implementation_version",
    }
)


class PipfileReader(DependencyReader):
    """Reads ``Pipfile`` and ``Pipfile.lock``."""

    def read_pipfile(self) -> None:
        loaded = self.load_toml(self.root / "Pipfile")
        if loaded is None:
            return
        data, text = loaded
        where = "Pipfile"
        packages = data.get("packages")
        if packages is None:
            return
        if not isinstance(packages, dict):
            self.problem(where, line_of(text, "[packages]"), "[packages] is not a table")
            return
        source = f"{where} [packages]"
        for key, value in packages.items():
            line = key_line(text, key, "[packages]")
            if isinstance(value, str):
                specifier = "" if value.strip() == "*" else value.strip()
                requirement = Requirement(canonicalize_name(key), specifier, source=source)
            elif isinstance(value, dict):
                version = str(value.get("version", "")).strip()
                parts = []
                if isinstance(value.get("markers"), str):
                    parts.append(str(value["markers"]))
                for variable in sorted(_MARKER_VARIABLES & set(value)):
                    parts.append(f"{variable} {value[variable]}")
                marker = " and ".join(f"({p})" if len(parts) > 1 else p for p in parts)
                requirement = Requirement(
                    name=canonicalize_name(key),
                    specifier="" if version == "*" else version,
                    extras=canonical_extras(value.get("extras", [])),
                    marker=self.check_marker(marker, where, line, f"[packages] {key}"),
                    url=_pipfile_url(value),
                    source=source,
                )
            else:
                self.problem(where, line, f"[packages] {key}: unsupported value {value!r}")
                continue
            self.add(self.deps.declared, requirement)

    def read_pipfile_lock(self) -> None:
        where = "Pipfile.lock"
        text = self.read_text(self.root / where, MAX_LOCK_FILE_BYTES)
        if text is None:
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.problem(where, exc.lineno, f"invalid JSON: {exc.msg}")
            return
        default = data.get("default") if isinstance(data, dict) else None
        if not isinstance(default, dict):
            self.problem(where, None, 'no "default" section')
            return
        for name, entry in default.items():
            version = entry.get("version") if isinstance(entry, dict) else None
            if isinstance(version, str) and version.strip():
                version = version.strip().removeprefix("==").strip()
                self.deps.locked.setdefault(canonicalize_name(name), version)


def _pipfile_url(table: dict[str, object]) -> str:
    git = table.get("git")
    if isinstance(git, str) and git:
        return vcs_url(git, table.get("ref"), table.get("subdirectory"))
    for key in ("file", "path"):
        value = table.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
