"""The ``channels-buildpack`` command.

Platform entry points (``bin/*`` call these): ``detect``, ``compile``, ``release`` (classic),
``build`` (Cloud Native Buildpack).
Run time (the Procfile calls these): ``web``, ``worker``, ``migrate`` (release phase).
Local tooling: ``inspect`` (what the buildpack sees), ``procfile`` (what it would generate),
``init`` (files for one-button deploys and review apps), ``doctor`` (what would go wrong).
Operating: ``status`` (channels, groups, processes and Redis of a running app).

Subcommands import their modules when they run (``# late import``), so ``web`` starts as fast
as possible and a build loads no run-time module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from buildpack import __version__, log, messages
from buildpack.redact import redact_text
from buildpack.runtime.ops.background_channels import add_channel_filters


def _add_app_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "app",
        nargs="?",
        help="ASGI application as module:attribute (default: from ASGI_APPLICATION)",
    )
    parser.add_argument(
        "--chdir", default=None, help="directory holding manage.py (default: current directory)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the README's command reference)."""
    parser = argparse.ArgumentParser(
        prog="channels-buildpack",
        description="Build and run Django Channels apps on Heroku-style platforms.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("detect", help="bin/detect: print the project kind").add_argument("build_dir")
    compile_ = sub.add_parser("compile", help="bin/compile: install, analyse, generate")
    compile_.add_argument("build_dir")
    compile_.add_argument("cache_dir")
    compile_.add_argument("env_dir", nargs="?")
    sub.add_parser("release", help="bin/release: process types and add-ons").add_argument(
        "build_dir"
    )
    cnb_build = sub.add_parser("build", help="bin/build (Cloud Native Buildpack), in the app dir")
    cnb_build.add_argument("layers_dir")
    cnb_build.add_argument("platform_dir", nargs="?", default="")

    inspect = sub.add_parser("inspect", help="show what the buildpack learns about an app")
    inspect.add_argument("dir", nargs="?", default=".")
    inspect.add_argument("--json", action="store_true", help="print the plan as JSON")
    procfile = sub.add_parser("procfile", help="print the Procfile the buildpack would write")
    procfile.add_argument("dir", nargs="?", default=".")

    web = sub.add_parser("web", help="serve HTTP and WebSockets with Daphne on $PORT")
    _add_app_arguments(web)
    web.add_argument("--port", type=int, default=None, help="default: $PORT, else 8000")
    web.add_argument(
        "--bind", default=None, help="address to bind (default: [::] dual-stack, else 0.0.0.0)"
    )
    web.add_argument(
        "--processes", type=int, default=None, help="Daphne processes (default: $WEB_CONCURRENCY)"
    )
    web.add_argument("--child-fd", type=int, default=None, help=argparse.SUPPRESS)
    web.add_argument("--child-index", type=int, default=0, help=argparse.SUPPRESS)
    web.add_argument("--report-fd", type=int, default=None, help=argparse.SUPPRESS)

    worker = sub.add_parser("worker", help="run background channel consumers")
    _add_app_arguments(worker)
    add_channel_filters(worker)
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="consumer instances per channel (default: $CHANNELS_WORKER_CONCURRENCY, else 1)",
    )
    migrate = sub.add_parser(
        "migrate", help="release phase: manage.py migrate (stays up idle under honcho)"
    )
    migrate.add_argument("--chdir", default=None, help="directory holding manage.py")
    _add_operating_commands(sub)
    return parser


def _add_operating_commands(sub: Any) -> None:
    status = sub.add_parser(
        "status", help="background channels, groups, processes and Redis of the running app"
    )
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.add_argument(
        "--watch", type=float, default=None, metavar="SECONDS", help="repeat every SECONDS"
    )
    status.add_argument("--top", type=int, default=10, metavar="N", help="groups listed (10)")
    status.add_argument("--chdir", default=None, help="directory holding manage.py")
    status.add_argument(
        "--url", default=None, help="ask the web process at URL (needs CHANNELS_METRICS_TOKEN)"
    )
    doctor = sub.add_parser("doctor", help="what would happen on the platform, and what is wrong")
    doctor.add_argument("dir", nargs="?", default=".")
    doctor.add_argument(
        "--host", default=None, help="the app's public host (default: from the environment)"
    )
    doctor.add_argument(
        "--static", action="store_true", help="static checks only (never loads your settings)"
    )
    init = sub.add_parser("init", help="write Procfile, app.json, project.toml, .env.example")
    init.add_argument("dir", nargs="?", default=".")


_BUILD_COMMANDS = {
    "detect": "detecting",
    "compile": "building",
    "release": "releasing",
    "inspect": "inspecting",
    "procfile": "generating a Procfile",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler = _HANDLERS[args.command]
    if args.command not in _BUILD_COMMANDS:
        return handler(args)
    _tolerant_output()
    try:
        return handler(args)
    except Exception as exc:  # a bug of ours: one build-log line, never a traceback
        detail = str(exc).strip().splitlines()[:1]
        error = type(exc).__name__ + (f" ({redact_text(detail[0])[:200]})" if detail else "")
        log.error(messages.INTERNAL_ERROR.format(error=error, step=_BUILD_COMMANDS[args.command]))
        return 1


def _tolerant_output() -> None:
    """File names from a repository may not be UTF-8: escape them instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _detect(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.core.detect import NOT_DETECTED_EXIT
    from buildpack.core.detect import main as detect_main

    code = detect_main(["detect", args.build_dir])
    return 1 if code == NOT_DETECTED_EXIT else code


def _compile(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.platforms.classic import compile_app

    env_dir = Path(args.env_dir) if args.env_dir else None
    bp_dir = Path(__file__).resolve().parent.parent
    return compile_app(Path(args.build_dir), Path(args.cache_dir), env_dir, bp_dir)


def _build(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.platforms.cnb import build_app

    platform_dir = Path(args.platform_dir) if args.platform_dir else None
    bp_dir = Path(__file__).resolve().parent.parent
    return build_app(Path(args.layers_dir), platform_dir, bp_dir)


def _release(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.platforms.classic import release_yaml

    sys.stdout.write(release_yaml(Path(args.build_dir)))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.commands.inspect import inspect_main

    return inspect_main(args)


def _procfile(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.commands.inspect import procfile_main

    return procfile_main(args)


def _web(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.runtime.launchers.web import main as web_main

    return web_main(args)


def _worker(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.runtime.launchers.worker import main as worker_main

    return worker_main(args)


def _migrate(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.runtime.launchers.migrate import main as migrate_main

    return migrate_main(args)


def _status(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.commands.status import main as status_main

    return status_main(args)


def _doctor(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.commands.doctor import main as doctor_main

    return doctor_main(args)


def _init(args: argparse.Namespace) -> int:
    # late import: only the command that runs loads its modules
    from buildpack.commands.init import main as init_main

    return init_main(args)


_HANDLERS = {
    "detect": _detect,
    "compile": _compile,
    "release": _release,
    "build": _build,
    "inspect": _inspect,
    "procfile": _procfile,
    "web": _web,
    "worker": _worker,
    "migrate": _migrate,
    "status": _status,
    "doctor": _doctor,
    "init": _init,
}
