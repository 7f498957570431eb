"""What we write into the slug: Procfile commands, a Channels ASGI module, ``.profile.d``.

All output comes from the readable templates in ``templates/`` and ``Procfile.template``.
Nothing here overwrites a user's file, and nothing embeds the build directory's path.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from string import Template

from buildpack.core import safefs
from buildpack.core.asgi_scan import GENERATED_MODULE
from buildpack.core.plan import Plan
from buildpack.core.procfile import Commands
from buildpack.core.resources import read_template

MARKER = "channels-buildpack-generated"
MAX_GENERATED_BYTES = 1024 * 1024
PROFILE_SCRIPT = ".profile.d/channels-buildpack.sh"
CLI = "channels-buildpack"


def is_generated_file(path: Path) -> bool:
    """True when *path* is a regular file written by us (our marker near the top)."""
    try:
        return MARKER in safefs.read_text(path, MAX_GENERATED_BYTES)[:4096]
    except OSError:
        return False


def _join(words: list[str]) -> str:
    return shlex.join(words)


def process_commands(plan: Plan) -> Commands:
    """The plain, one-command-per-line process types for *plan* (no ``&&``, no nesting)."""
    assert plan.app_path, "analysis must set app_path before generation"
    chdir = [] if plan.project_dir == "." else ["--chdir", plan.project_dir]
    release = _join([CLI, "migrate", *chdir]) if plan.uses_database and plan.manage_py else ""
    if plan.server == "gunicorn":
        return Commands(web=_join(["gunicorn", *chdir, plan.app_path]), release=release)
    web = _join([CLI, "web", plan.app_path, *chdir])
    worker = _join([CLI, "worker", plan.app_path, *chdir]) if plan.background_channels else ""
    return Commands(web=web, worker=worker, release=release)


def asgi_module_source(plan: Plan) -> str:
    """Source of the Channels ASGI module generated for a stock or missing asgi.py."""
    asgi = plan.asgi
    assert asgi is not None and plan.settings.module
    settings_module = asgi.settings_default or plan.settings.module
    if not asgi.websocket_modules:
        template = Template(read_template("asgi_http_only.py.tmpl"))
        return template.substitute(settings_module=settings_module)
    if asgi.kind == "stock":
        state = f"{asgi.path}, Django's stock one"
        http_app = f"from {asgi.module} import {asgi.attr} as django_asgi_app  # noqa: E402"
    else:
        state = "none found"
        http_app = (
            "from django.core.asgi import get_asgi_application  # noqa: E402\n\n"
            "django_asgi_app = get_asgi_application()"
        )
    aliases = {m: f"websocket_routes_{i}" for i, m in enumerate(asgi.websocket_modules)}
    imports = "\n".join(
        f"from {module} import websocket_urlpatterns as {alias}  # noqa: E402"
        for module, alias in aliases.items()
    )
    return Template(read_template("asgi.py.tmpl")).substitute(
        asgi_state=state,
        route_modules=", ".join(asgi.websocket_modules),
        settings_module=settings_module,
        http_app_import=http_app,
        route_imports=imports,
        route_list=", ".join(f"*{alias}" for alias in aliases.values()),
    )


def write_generated_asgi(plan: Plan, root: Path) -> Path | None:
    """Write the generated ASGI module when the plan calls for one; return its path.

    :class:`FileExistsError` when a file of ours would replace the user's;
    :class:`~buildpack.core.safefs.UnsafeFile` when the path leaves *root* or is no file.
    """
    if not plan.asgi or not plan.asgi.generated:
        return None
    target = root / plan.asgi.generated
    if target.exists() and not is_generated_file(target):
        raise FileExistsError(plan.asgi.generated)
    return Path(safefs.write_text(root, plan.asgi.generated, asgi_module_source(plan)))


def profile_script() -> str:
    """The ``.profile.d`` script: runtime defaults only (``X=${X:-default}``)."""
    return read_template("profile.sh")


_DEFAULT_LINE = re.compile(r'^export ([A-Z_][A-Z0-9_]*)="\$\{\1:-([^}]*)\}"$', re.MULTILINE)


def runtime_defaults() -> dict[str, str]:
    """The run-time defaults of ``templates/profile.sh`` as ``{NAME: value}``: the one list
    both platforms apply (classic sources the script; CNB writes ``NAME.default`` files)."""
    return dict(_DEFAULT_LINE.findall(profile_script()))


def generated_module_name() -> str:
    """Dotted name of the generated ASGI module (importable from the project directory)."""
    return GENERATED_MODULE
