"""Build: ``bin/detect`` on synthetic 20,000-file repositories, ``bin/compile`` and the
Cloud Native Buildpack ``bin/build`` per fixture.

* detect: two generated repositories of ``detect_files`` files each. "typical": manage.py
  and requirements.txt at the root, the bulk in node_modules/, static/, docs/, .git/.
  "deep": manage.py two levels down (src/backend/), Channels visible only in the settings
  (requirements.txt lists Django alone, so detect must look at the code), and thousands of
  directories within the depth detect searches. Baseline: ``find DIR -type f`` over the
  same tree (the cost of merely listing it), plus the absolute 0.2 s budget.
* compile: every fixture whose fixture.json says it compiles, built by the platform
  emulation; ``bin/compile`` (our step, which installs our own runtime wheel into the app's
  Python) against two baselines: what heroku/python's own step would take, ``pip install``
  of the same app's dependencies from a warm pip cache into a fresh Python (the issue's
  baseline; the pip cache is warmed once, unmeasured, with the bench app), and the
  emulated heroku/python step of the same build (``uv venv`` + ``uv pip install``/``uv
  sync`` from the warm uv cache: what heroku/python does for uv apps, the fastest
  installer). One unmeasured warm-up build first (it builds and caches our wheel).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import BENCH_APP, FIXTURES, REPO, FamilyResult, median, say
from bench.stack import Context
from tests.support.platform import _declared, python_for, uv_binary

NAME = "build"
TITLE = "Build: bin/detect, bin/compile and bin/build (CNB)"
DETECT_BUDGET = 0.2

SETTINGS = 'CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}\n'


_made_dirs: set[str] = set()


def _write(path: Path, text: str = "x\n") -> None:
    """Create a small file (directories made once each: 20,000 files in a few seconds)."""
    parent = str(path.parent)
    if parent not in _made_dirs:
        os.makedirs(parent, exist_ok=True)
        _made_dirs.add(parent)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def make_typical(root: Path, files: int) -> int:
    """A Channels project at the root plus vendored/static bulk."""
    _write(
        root / "manage.py",
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
    )
    _write(root / "requirements.txt", "django>=4.2\nchannels>=4.0\ndaphne>=4.0\n")
    _write(root / "mysite" / "__init__.py", "")
    _write(root / "mysite" / "settings.py", SETTINGS)
    _write(root / "mysite" / "asgi.py", "application = None\n")
    made = 5
    shares = [("node_modules", 0.6), ("static", 0.2), ("docs", 0.1), (".git/objects", 0.1)]
    for folder, share in shares:
        count = int(files * share)
        for i in range(count):
            if made >= files:
                break
            _write(root / folder / f"p{i // 100:03d}" / f"d{(i // 10) % 10}" / f"f{i}.js")
            made += 1
    while made < files:
        _write(root / "extra" / f"f{made}.txt")
        made += 1
    return made


def make_deep(root: Path, files: int) -> int:
    """manage.py two levels down, Channels only in settings, many shallow directories."""
    _write(root / "requirements.txt", "Django>=4.2\n")
    base = root / "src" / "backend"
    _write(
        base / "manage.py",
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
    )
    _write(base / "proj" / "__init__.py", "")
    _write(base / "proj" / "settings.py", SETTINGS)
    _write(base / "proj" / "routing.py", "from channels.routing import ProtocolTypeRouter\n")
    made = 5
    half = files // 2
    for i in range(half):  # 10 files per directory, directories at depth 1-3
        _write(root / "assets" / f"a{i // 1000}" / f"b{(i // 10) % 100}" / f"f{i}.txt")
        made += 1
    while made < files:
        i = made
        _write(root / "node_modules" / f"p{i // 100}" / f"f{i}.js")
        made += 1
    return made


def _time_command(command: list[str], runs: int) -> tuple[float, list[float], int]:
    times = []
    code = 0
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        code = result.returncode
    return median(times), times, code


def run(ctx: Context, result: FamilyResult) -> None:
    _detect(ctx, result)
    _compile(ctx, result)
    _cnb_build(ctx, result)


def _tree_parent(ctx: Context) -> tuple[Path, str]:
    """Where to generate the trees: tmpfs when there is one (creating 40,000 files on this
    disk takes ~12 s, on tmpfs <1 s; detect is timed with the metadata cached either way)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="channels-bench-detect-", dir=shm)), "tmpfs"
    return ctx.workdir / "detect", "work dir"


def _detect(ctx: Context, result: FamilyResult) -> None:
    parent, where = _tree_parent(ctx)
    try:
        _detect_in(ctx, result, parent, where)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _detect_in(ctx: Context, result: FamilyResult, parent: Path, where: str) -> None:
    runs = ctx.profile.detect_runs
    files = ctx.profile.detect_files
    for kind, maker in (("typical", make_typical), ("deep", make_deep)):
        root = parent / kind
        made = maker(root, files)
        say(f"build: bin/detect on a {made}-file {kind} repository ({runs} runs)")
        subprocess.run(["find", str(root), "-type", "f"], capture_output=True, check=False)  # warm
        detect_s, detect_all, code = _time_command([str(REPO / "bin" / "detect"), str(root)], runs)
        find_s, _, _ = _time_command(["find", str(root), "-type", "f"], runs)
        walk = "import os,sys; print(sum(len(f) for _, _, f in os.walk(sys.argv[1])))"
        walk_s, _, _ = _time_command(["python3", "-c", walk, str(root)], runs)
        result.measure(
            f"detect_{kind}",
            label=f"bin/detect, {kind} {made}-file repo",
            seconds=detect_s,
            runs=detect_all,
            exit_code=code,
            files=made,
            within_budget=detect_s <= DETECT_BUDGET,
            filesystem=where,
        )
        result.measure(f"find_{kind}", label=f"find -type f, {kind}", seconds=find_s, files=made)
        result.measure(f"walk_{kind}", label=f"python3 os.walk, {kind}", seconds=walk_s, files=made)
        result.measure(f"budget_{kind}", label="budget", seconds=DETECT_BUDGET)
        result.ratio(
            f"detect vs find ({kind})", "seconds", f"detect_{kind}", f"find_{kind}",
            better="lower", unit="s",
        )  # fmt: skip
        result.ratio(
            f"detect vs 0.2 s budget ({kind})", "seconds", f"detect_{kind}", f"budget_{kind}",
            better="lower", unit="s",
        )  # fmt: skip


def compile_fixtures(ctx: Context) -> list[Path]:
    chosen = ctx.profile.build_fixtures
    apps = []
    for meta in sorted([*FIXTURES.glob("*/fixture.json"), REPO / "example" / "fixture.json"]):
        data = json.loads(meta.read_text())
        if data.get("compile") != "ok":
            continue
        if chosen is not None and meta.parent.name not in chosen:
            continue
        apps.append(meta.parent)
    return apps


def _compile(ctx: Context, result: FamilyResult) -> None:
    platform = ctx.platform
    if not platform.timings:  # warm-up: our wheel gets built and cached in CACHE_DIR
        say("build: warm-up build (bench app) and pip cache")
        ctx.bench_build()
        _pip_install_seconds(ctx, BENCH_APP)
    compile_times: list[float] = []
    heroku_times: list[float] = []
    pip_times: list[float] = []
    for app in compile_fixtures(ctx):
        if python_for(app) is None:
            result.notes.append(f"compile {app.name}: skipped, no Python for its .python-version")
            continue
        say(f"build: compiling {app.name}")
        build = platform.build(app, {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"})
        timing = platform.last
        if not build.ok:
            result.errors.append(f"compile {app.name} failed")
            continue
        key = app.name if app != BENCH_APP else "bench_app"
        result.measure(
            f"compile_{key}",
            label=f"bin/compile {key}",
            seconds=timing.get("compile"),
            detect_seconds=timing.get("detect"),
            release_seconds=timing.get("release"),
        )
        result.measure(
            f"heroku_python_{key}",
            label=f"heroku/python step {key} (uv, emulated)",
            seconds=timing.get("heroku_python"),
        )
        pip_seconds = _pip_install_seconds(ctx, app)
        result.measure(f"pip_{key}", label=f"pip install {key}, warm cache", seconds=pip_seconds)
        result.ratio(
            f"bin/compile vs pip install, warm cache ({key})", "seconds",
            f"compile_{key}", f"pip_{key}", better="lower", unit="s",
        )  # fmt: skip
        result.ratio(
            f"bin/compile vs uv install step ({key})", "seconds",
            f"compile_{key}", f"heroku_python_{key}", better="lower", unit="s",
        )  # fmt: skip
        compile_times.append(timing.get("compile", 0.0))
        heroku_times.append(timing.get("heroku_python", 0.0))
        if pip_seconds is not None:
            pip_times.append(pip_seconds)
    if compile_times and pip_times:
        result.measure(
            "compile_median",
            label="bin/compile, median over fixtures",
            seconds=median(compile_times),
        )
        result.measure("pip_median", label="pip install, median", seconds=median(pip_times))
        result.measure(
            "heroku_python_median", label="uv install step, median", seconds=median(heroku_times)
        )
        result.ratio(
            "bin/compile vs pip install, warm cache (median of fixtures)", "seconds",
            "compile_median", "pip_median", better="lower", unit="s",
        )  # fmt: skip
        result.ratio(
            "bin/compile vs uv install step (median of fixtures)", "seconds",
            "compile_median", "heroku_python_median", better="lower", unit="s",
        )  # fmt: skip
    result.notes.append(
        "pip install = `python -m pip install` of the app's dependencies (requirements.txt, "
        "else the declared/locked ones) into a fresh Python, pip cache warm: heroku/python's "
        "own step for pip apps. uv install step = the platform emulation's heroku/python "
        "stand-in (`uv venv` + `uv pip install`/`uv sync`, uv cache warm). bin/compile "
        "includes one pip run installing our runtime wheel into the app's Python."
    )


def _pip_install_seconds(ctx: Context, app: Path) -> float | None:
    """Seconds for ``pip install`` of *app*'s dependencies into a fresh Python (warm cache)."""
    python = python_for(app)
    if python is None:
        return None
    venv = ctx.scratch("pip-baseline")
    subprocess.run(
        [uv_binary(), "venv", "-q", "--seed", "--clear", "--python", python, str(venv)],
        check=True,
        capture_output=True,
    )
    wanted = ["-r", "requirements.txt"] if (app / "requirements.txt").is_file() else None
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    command += wanted or _declared(app)
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(ctx.workdir / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    started = time.perf_counter()
    done = subprocess.run(command, cwd=app, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    shutil.rmtree(venv, ignore_errors=True)
    return seconds if done.returncode == 0 else None


def _cnb_build(ctx: Context, result: FamilyResult) -> None:
    """``bin/build`` (Cloud Native Buildpack) next to ``bin/compile``, on the CNB lifecycle
    emulation: a first build of each app (its pip cache warm from an earlier app, as after
    an earlier deploy; the first app of the run is a warm-up) and a rebuild of the same
    source (our layer reused from the build cache)."""
    from tests.support.cnb_platform import CnbPlatform

    cnb = CnbPlatform(ctx.scratch("cnb"))
    ours = cnb.buildpacks["ours"].id
    say("build: CNB warm-up build (bench app)")
    cnb.build(BENCH_APP, {})
    firsts: list[float] = []
    rebuilds: list[float] = []
    compiles: list[float] = []
    for app in compile_fixtures(ctx):
        key = app.name if app != BENCH_APP else "bench_app"
        compiled = result.measurements.get(f"compile_{key}", {}).get("seconds")
        if python_for(app) is None or compiled is None:
            continue
        say(f"build: CNB bin/build {app.name} (first build, then a rebuild)")
        build = cnb.build(app, {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"})
        first = build.lifecycle.seconds(ours, "build") if build.built else None
        rebuilt = cnb.rebuild(build)
        again = rebuilt.lifecycle.seconds(ours, "build") if rebuilt.built else None
        if first is None or again is None:
            result.errors.append(f"CNB build {app.name} failed")
            continue
        result.measure(f"cnb_build_{key}", label=f"bin/build {key}", seconds=first)
        result.measure(f"cnb_rebuild_{key}", label=f"bin/build {key}, rebuild", seconds=again)
        result.ratio(
            f"bin/build vs bin/compile ({key})", "seconds",
            f"cnb_build_{key}", f"compile_{key}", better="lower", unit="s",
        )  # fmt: skip
        firsts.append(first)
        rebuilds.append(again)
        compiles.append(compiled)
    if firsts:
        result.measure("cnb_build_median", label="bin/build, median", seconds=median(firsts))
        result.measure(
            "cnb_rebuild_median", label="bin/build rebuild, median", seconds=median(rebuilds)
        )
        result.measure(
            "compile_median_cnb", label="bin/compile, median (same apps)", seconds=median(compiles)
        )
        result.ratio(
            "bin/build vs bin/compile (median of fixtures)", "seconds",
            "cnb_build_median", "compile_median_cnb", better="lower", unit="s",
        )  # fmt: skip
        result.ratio(
            "bin/build rebuild vs first build (median of fixtures)", "seconds",
            "cnb_rebuild_median", "cnb_build_median", better="lower", unit="s",
        )  # fmt: skip
    result.notes.append(
        "bin/build = our CNB step on the lifecycle emulation (tests/support/cnb.py) after a "
        "heroku/python stand-in (pip in its own layer, the venv without pip, as the real "
        "one): it installs our runtime into a layer of its own in one pip run, from the "
        "wheels its cache layer keeps (a build with an empty cache downloads them first); "
        "a rebuild reuses the cached layer. Each CNB app starts from the cache layer of the "
        "run's first app, as after an earlier deploy: an app on another Python finds no "
        "wheels for its interpreter there and downloads them first (two pip runs), as a "
        "build with an empty cache does."
    )
