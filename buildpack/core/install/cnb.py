"""Installing into a layer of our own, as Cloud Native Buildpacks build: the app's Python is
never written to (heroku/python's layers are its own).

What the app already has is used as is; exactly the missing distributions go into the
target directory, which the layer puts on ``PYTHONPATH`` at run time. Our runtime's pinned
dependencies come from wheels kept in our cache layer (:mod:`.wheelcache`), so a build after
an earlier one runs pip once, from files.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from buildpack.core import pins
from buildpack.core.install import runner, runtime_package, wheelcache
from buildpack.core.install.runner import AppPython


def install_into(
    app: AppPython,
    requirements: Sequence[str],
    target: Path,
    cache_dir: Path,
    config_vars: Mapping[str, str],
) -> None:
    """Install *requirements*, and what they need that the app's Python lacks, into *target*.

    The app's Python is never written to. pip first resolves against it (``--dry-run
    --report``: what the app already has, in the versions it has, is used as is), then
    exactly the missing distributions go into *target*, which is put on ``PYTHONPATH`` at
    run time.
    """
    env = runner.pip_env(cache_dir, config_vars)
    base = runner.pip_command(app)
    what = ", ".join(runner.display(r) for r in requirements)
    with tempfile.TemporaryDirectory(prefix="cbp-report-") as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "-q", "--dry-run", "--report", str(report), *requirements]
        runner.run_pip(base, args, env, what)
        planned = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    wanted = [_report_requirement(item) for item in planned]
    if wanted:
        args = ["install", "-q", "--no-deps", "--upgrade", "--target", str(target), *wanted]
        runner.run_pip(base, args, env, what)


def _report_requirement(item: Mapping[str, object]) -> str:
    """A pip requirement for one entry of ``pip install --report``: a direct file stays a
    file, anything from an index is pinned to the version the resolver chose."""
    metadata = item["metadata"]
    assert isinstance(metadata, dict)
    download = item.get("download_info")
    if item.get("is_direct") and isinstance(download, dict):
        return str(download["url"])
    return f"{metadata['name']}=={metadata['version']}"


def install_runtime_into(
    app: AppPython,
    wanted: Sequence[str],
    target: Path,
    cache_dir: Path,
    config_vars: Mapping[str, str],
) -> None:
    """Our wheel and the runtime dependencies the app lacks (*wanted*: the wheel, then pins,
    nothing to resolve) into *target*, the optional packages too when they have a wheel.

    One pip run from files when the build cache holds every wheel
    (:mod:`buildpack.core.install.wheelcache`); otherwise they are downloaded there first, and
    when even that fails, installed from the index as they come."""
    env = runner.pip_env(cache_dir, config_vars)
    what = ", ".join(runner.display(r) for r in wanted)
    command = ["install", "-q", "--no-deps", "--upgrade", "--target", str(target)]
    cached = _cached_wheels(app, list(wanted[1:]), cache_dir, env)
    if cached is None:
        runtime_package.install_with_optional(app, [*command, *wanted], env, what)
        return
    files, dropped = cached
    runner.run_pip(
        runner.pip_command(app), [*command, "--no-index", wanted[0], *map(str, files)], env, what
    )
    if dropped:
        runtime_package.say_optional_missing(dropped)


def _cached_wheels(
    app: AppPython, pinned: list[str], cache_dir: Path, env: Mapping[str, str]
) -> tuple[list[Path], list[str]] | None:
    """``(wheel files, optional requirements left out)`` for *pinned* and the missing
    optional packages, downloading what the cache lacks (every runtime pin of this Python
    at once, so the next app on it finds them whatever it lacks); None when the pins cannot
    be had as wheels."""
    folder = wheelcache.directory(cache_dir)
    optional = runtime_package.missing_optional_dependencies()
    every = [
        pins.pinned(runtime_package.project_name(r)) for r in runtime_package.runtime_dependencies()
    ]
    every_optional = [
        pins.pinned(runtime_package.project_name(r))
        for r in runtime_package.OPTIONAL_DEPENDENCIES
        if runtime_package.applies_here(r)
    ]
    attempts: list[tuple[list[str], list[str], list[str]]] = [
        ([*pinned, *optional], [], every_optional),  # the optional ones too, if they have wheels
        (pinned, optional, []),
    ]
    for wanted, dropped, extra in attempts:
        if wheelcache.missing(folder, wanted):
            args = ["download", "-q", "--no-deps", "--only-binary", ":all:", "-d", str(folder)]
            absent = wheelcache.missing(folder, [*every, *extra, *wanted])
            runner.run_python([*runner.pip_command(app), *args, *dict.fromkeys(absent)], env)
        files = wheelcache.find_all(folder, wanted)
        if files is not None:
            return files, dropped
    return None
