"""``channels-buildpack init [DIR]``: files for one-button deploys and review apps.

Writes, from the static analysis (your code is never imported):

* ``Procfile`` (when there is none): the one the build would generate, linted;
* ``app.json``: formation (``web``, plus ``worker`` when there are background channels),
  ``heroku-redis:mini`` (and Postgres when the settings use a database), a generated
  secret key under the name your settings read, ``DJANGO_ALLOWED_HOSTS``, the buildpacks in
  order, a Heroku CI test script;
* ``project.toml``: the buildpack group for Cloud Native Buildpack platforms (Heroku Fir);
* ``.env.example``: the variables ``honcho start`` reads from ``.env``.

A file that exists is never changed: init prints what it would change (a unified diff)
instead. Files are created with exclusive mode, so a file appearing meanwhile is not
overwritten either.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

from buildpack import __version__, messages
from buildpack.core import generate, procfile
from buildpack.core.analysis import analyze
from buildpack.core.plan import Plan
from buildpack.core.pysource import ModuleIndex, SourceError, env_vars_read
from buildpack.core.settings_reader import SettingsNotFound, read_namespace

BUILDPACK_URL = "https://github.com/channels-buildpack/channels-buildpack"
CNB_IMAGE = f"docker://ghcr.io/channels-buildpack/channels-buildpack:{__version__}"
DEFAULT_SECRET_VARIABLE = "DJANGO_SECRET_KEY"
REDIS_ADDON = "heroku-redis:mini"
POSTGRES_ADDON = "heroku-postgresql:essential-0"
DYNO_SIZE = "basic"
ALLOWED_HOSTS_VALUE = ".herokuapp.com"
FILES = ("Procfile", "app.json", "project.toml", ".env.example")


def secret_key_variable(plan: Plan, root: Path) -> tuple[str, bool]:
    """(the env var SECRET_KEY is read from, whether the settings read one at all)."""
    if not plan.settings.module:
        return DEFAULT_SECRET_VARIABLE, False
    index = ModuleIndex([root / plan.project_dir, root], root)
    try:
        namespace, _ = read_namespace(index, plan.settings.module)
    except (SourceError, SettingsNotFound):
        return DEFAULT_SECRET_VARIABLE, False
    for candidate in namespace.get("SECRET_KEY", []):
        names = env_vars_read(candidate.node) if candidate.node is not None else []
        if names:
            return names[0], True
    return DEFAULT_SECRET_VARIABLE, False


def _app_name(root: Path) -> str:
    """A name matching Heroku's schema (``^[a-zA-Z-_.]+``, letters first)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.name).strip("-") or "app"
    return name if re.match(r"[A-Za-z]", name) else f"app-{name}"


def _manage(plan: Plan) -> str:
    return "manage.py" if plan.project_dir == "." else f"{plan.project_dir}/manage.py"


def app_json(plan: Plan, root: Path) -> dict[str, Any]:
    """The app.json for *plan* (Heroku's schema; env entries are objects)."""
    secret, _ = secret_key_variable(plan, root)
    formation = {"web": {"quantity": 1, "size": DYNO_SIZE}}
    if plan.background_channels:
        formation["worker"] = {"quantity": 1, "size": DYNO_SIZE}
    addons = [REDIS_ADDON] if plan.is_channels else []
    if plan.uses_database:
        addons.append(POSTGRES_ADDON)
    kind = "Django Channels" if plan.is_channels else "Django"
    return {
        "name": _app_name(root),
        "description": f"{kind} app deployed with channels-buildpack.",
        "keywords": ["django", "channels"] if plan.is_channels else ["django"],
        "env": {
            secret: {"description": "Django's SECRET_KEY.", "generator": "secret"},
            "DJANGO_ALLOWED_HOSTS": {
                "description": messages.INIT_ALLOWED_HOSTS_DESCRIPTION,
                "value": ALLOWED_HOSTS_VALUE,
            },
        },
        "formation": formation,
        "addons": addons,
        "buildpacks": [{"url": "heroku/python"}, {"url": BUILDPACK_URL}],
        "environments": {
            "test": {
                "scripts": {"test": f"python {_manage(plan)} check --deploy --fail-level ERROR"}
            }
        },
    }


def merged_app_json(existing: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """*existing* with what it lacks from *ours* added (nothing of it removed or changed)."""
    merged = dict(existing)
    for key in ("name", "description", "keywords"):
        merged.setdefault(key, ours[key])
    for key in ("env", "formation"):
        section = dict(merged.get(key) or {})
        for name, value in ours[key].items():
            section.setdefault(name, value)
        merged[key] = section
    addons = list(merged.get("addons") or [])
    plans = {a if isinstance(a, str) else a.get("plan") for a in addons}
    addons += [
        a for a in ours["addons"] if a.split(":")[0] not in {str(p).split(":")[0] for p in plans}
    ]
    merged["addons"] = addons
    buildpacks = list(merged.get("buildpacks") or [])
    urls = [str(b.get("url", "")) for b in buildpacks if isinstance(b, dict)]
    if not any(
        u in ("heroku/python", "heroku/python3") or u.endswith("heroku-buildpack-python")
        for u in urls
    ):
        buildpacks.append({"url": "heroku/python"})
    if not any("channels-buildpack" in u for u in urls):
        buildpacks.append({"url": BUILDPACK_URL})
    merged["buildpacks"] = buildpacks
    merged.setdefault("environments", ours["environments"])
    return merged


def project_toml() -> str:
    """The buildpack group for CNB platforms (the README's Cloud Native Buildpacks section)."""
    return (
        "# Cloud Native Buildpack platforms (Heroku Fir, pack): the buildpacks, in order.\n"
        "[_]\n"
        'schema-version = "0.2"\n'
        "\n"
        "[[io.buildpacks.group]]\n"
        'id = "heroku/python"\n'
        "\n"
        "[[io.buildpacks.group]]\n"
        f'uri = "{CNB_IMAGE}"\n'
        "\n"
        "[[io.buildpacks.group]]  # launches the process types of your Procfile\n"
        'id = "heroku/procfile"\n'
    )


def env_example(plan: Plan, root: Path) -> str:
    """``.env.example``: copy to ``.env`` for ``honcho start``."""
    secret, _ = secret_key_variable(plan, root)
    lines = [
        "# Copy to .env for `honcho start` (keep .env out of git). Config vars on Heroku.",
        f"{secret}=change-me-to-a-long-random-string",
        "DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1",
    ]
    if plan.is_channels:
        lines += [
            "# Without Redis everything runs in the web process (single-process mode);",
            "# with it: honcho start -c worker=2",
            "# REDIS_URL=redis://localhost:6379",
        ]
    if plan.uses_database:
        lines.append("# DATABASE_URL=postgres://localhost:5432/app")
    if plan.is_channels:
        lines.append("# CHANNELS_METRICS_TOKEN=  (turns on the web process's metrics endpoint)")
    return "\n".join(lines) + "\n"


def proposed_files(plan: Plan, root: Path) -> dict[str, str]:
    """File name -> the content init would write."""
    files = {"Procfile": procfile.render(generate.process_commands(plan))}
    files["app.json"] = json.dumps(app_json(plan, root), indent=2) + "\n"
    files["project.toml"] = project_toml()
    files[".env.example"] = env_example(plan, root)
    return files


def _proposal_for_existing(name: str, existing: str, ours: str, plan: Plan, root: Path) -> str:
    if name != "app.json":
        return ours
    try:
        data = json.loads(existing)
    except ValueError:
        return ours
    if not isinstance(data, dict):
        return ours
    return json.dumps(merged_app_json(data, app_json(plan, root)), indent=2) + "\n"


def _diff(name: str, existing: str, proposal: str) -> str:
    lines = difflib.unified_diff(
        existing.splitlines(keepends=True),
        proposal.splitlines(keepends=True),
        fromfile=f"{name} (yours)",
        tofile=f"{name} (init would write)",
    )
    return "".join(lines)


def write_files(plan: Plan, root: Path) -> list[str]:
    """Create the missing files; for existing ones, report the change instead. Returns lines."""
    out: list[str] = []
    for name, content in proposed_files(plan, root).items():
        path = root / name
        if path.exists():
            existing = path.read_text(encoding="utf-8", errors="replace")
            proposal = _proposal_for_existing(name, existing, content, plan, root)
            if existing == proposal:
                out.append(messages.INIT_UP_TO_DATE.format(name=name))
            else:
                out.append(messages.INIT_KEPT.format(name=name))
                out.append(_diff(name, existing, proposal).rstrip("\n"))
            continue
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(content)
        except FileExistsError:
            out.append(messages.INIT_KEPT.format(name=name))
            continue
        out.append(messages.INIT_WROTE.format(name=name))
    return out


def checks(plan: Plan, root: Path) -> list[str]:
    """What the written files still need from the user (lint of the Procfile in effect...)."""
    notes = []
    path = root / "Procfile"
    if path.is_file():
        processes = procfile.parse(path.read_text(encoding="utf-8", errors="replace"))
        notes += procfile.lint(
            processes, channels=plan.is_channels, background_channels=plan.background_channels
        )
    secret, read = secret_key_variable(plan, root)
    if not read:
        notes.append(messages.INIT_SECRET_KEY_HARDCODED.format(variable=secret))
    return notes


def main(args: argparse.Namespace) -> int:
    """Entry point; returns the exit code (1 when DIR is not a deployable Django app)."""
    root = Path(args.dir).resolve()
    plan = analyze(root)
    if plan.kind == "none" or plan.errors or plan.app_path is None:
        problems = plan.errors or [plan.reason]
        sys.stderr.write(messages.INIT_NOT_AN_APP.format(problems="\n".join(problems)) + "\n")
        return 1
    for line in write_files(plan, root):
        sys.stdout.write(line + "\n")
    for note in checks(plan, root):
        sys.stdout.write(f"warning: {note}\n")
    sys.stdout.write(messages.INIT_NEXT + "\n")
    return 0
