"""The TOML lock files: ``uv.lock`` and ``poetry.lock`` (versions only)."""

from __future__ import annotations

from collections.abc import Callable

from packaging.utils import canonicalize_name

from buildpack.core.deps.common import MAX_LOCK_FILE_BYTES, DependencyReader


class LockReader(DependencyReader):
    """Reads the versions ``uv.lock`` and ``poetry.lock`` pin."""

    def read_toml_lock(self, filename: str, skip: Callable[[dict[str, object]], bool]) -> None:
        loaded = self.load_toml(self.root / filename, MAX_LOCK_FILE_BYTES)
        if loaded is None:
            return
        packages = loaded[0].get("package", [])
        if not isinstance(packages, list):
            self.problem(filename, None, "[[package]] is not an array of tables")
            return
        for package in packages:
            if not isinstance(package, dict) or skip(package):
                continue
            name, version = package.get("name"), package.get("version")
            if isinstance(name, str) and isinstance(version, str) and name and version:
                self.deps.locked.setdefault(canonicalize_name(name), version)

    def read_uv_lock(self) -> None:
        def is_root_project(package: dict[str, object]) -> bool:
            source = package.get("source")
            return isinstance(source, dict) and "." in (
                source.get("virtual"),
                source.get("editable"),
            )

        self.read_toml_lock("uv.lock", is_root_project)

    def read_poetry_lock(self) -> None:
        self.read_toml_lock("poetry.lock", lambda package: False)
