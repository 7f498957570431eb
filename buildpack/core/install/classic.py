"""Installing into the app's Python, as the classic platforms build (``BUILD_DIR/.heroku/python``).

heroku/python builds in ``/tmp/build_<hash>`` but the slug runs from ``/app``; it links
``/app/.heroku/python`` to the build's Python and puts that path on ``PATH``. pip writes
console-script shebangs from the interpreter path it runs under, so we run pip through that
run-time path whenever it exists, and only otherwise repair our own script's shebang
(:func:`relocate_scripts`). A repeat deploy restores the app's Python from heroku/python's
cache: when it already holds this exact buildpack source (a marker file beside our package),
no pip runs at all.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from buildpack.core import safefs
from buildpack.core.install import runner, runtime_package
from buildpack.core.install.runner import AppPython

RUNTIME_PYTHON_LINKS = ("/app/.heroku/python/bin/python",)
DIGEST_MARKER = "_installed_from"
MAX_SCRIPT_BYTES = 1024 * 1024


def find_app_python(build_dir: Path, path_env: str | None = None) -> AppPython | None:
    """Locate ``.heroku/python`` and the best path to run pip with (see module docstring)."""
    build_path = build_dir / ".heroku" / "python" / "bin" / "python"
    if not build_path.exists():
        return None
    target = build_path.parent.parent.resolve()
    search = list(RUNTIME_PYTHON_LINKS)
    search += [str(Path(d) / "python") for d in (path_env or "").split(os.pathsep) if d]
    build_roots = (build_dir.absolute(), build_dir.resolve())
    for candidate in search:
        path = Path(candidate)
        if not path.exists() or any(path.is_relative_to(root) for root in build_roots):
            continue  # the build's own bin (under either spelling of BUILD_DIR) is no run-time path
        if path.parent.parent.resolve() == target:
            return AppPython(build_path, str(path), True)
    return AppPython(build_path, str(build_path), False)


def _installed_marker() -> Path | None:
    """Where the installed copy records which buildpack source it came from."""
    try:
        dist = importlib.metadata.distribution("channels-buildpack")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(f"buildpack/{DIGEST_MARKER}")))


def _read_or_empty(path: Path) -> str:
    try:
        return safefs.read_text(path, MAX_SCRIPT_BYTES)
    except OSError:
        return ""


def install_runtime(
    app: AppPython, bp_dir: Path, cache_dir: Path, config_vars: Mapping[str, str]
) -> bool:
    """Install channels-buildpack (and its small deps) into the app's Python.

    One pip run at most; none when the slug's Python (restored from heroku/python's
    cache on a repeat deploy) already holds this exact buildpack source. Returns whether
    anything was installed.
    """
    digest = runtime_package.source_digest(bp_dir)
    marker = _installed_marker()
    missing = runtime_package.missing_runtime_dependencies()
    env = runner.pip_env(cache_dir, config_vars)
    if marker is not None and _read_or_empty(marker) == digest and not missing:
        return install_optional(app, env)
    wheel = runtime_package.runtime_wheel(bp_dir, cache_dir, app, env)
    command = ["install", "-q", "--force-reinstall", "--no-deps", str(wheel), *missing]
    runtime_package.install_with_optional(app, command, env, "channels-buildpack")
    if not app.runtime_valid:
        relocate_scripts(app, ["channels-buildpack"])
    importlib.invalidate_caches()
    marker = _installed_marker()
    if marker is not None and marker.parent.is_dir():
        safefs.write_text(marker.parent, marker.name, digest)
    return True


def install_optional(app: AppPython, env: Mapping[str, str]) -> bool:
    """Install the missing :data:`~.runtime_package.OPTIONAL_DEPENDENCIES` from binary
    wheels; a failure is one line in the build log, not a failed build. Returns whether
    anything was installed."""
    missing = runtime_package.missing_optional_dependencies()
    if not missing:
        return False
    result = runner.run_python(
        [*runner.pip_command(app), "install", "-q", *runtime_package.from_binary_wheels(missing)],
        env,
    )
    if result.returncode != 0:
        runtime_package.say_optional_missing(missing)
        return False
    return True


def relocate_scripts(app: AppPython, names: Sequence[str]) -> None:
    """Point console scripts pip wrote with a build-directory shebang at ``python3`` on PATH."""
    bin_dir = app.build_path.parent
    build_python = str(app.build_path)
    for name in names:
        text = _read_or_empty(bin_dir / name)
        first, _, rest = text.partition("\n")
        if first.startswith("#!") and build_python in first:
            safefs.write_text(bin_dir, name, "#!/usr/bin/env python3\n" + rest, mode=0o755)
