"""``channels-buildpack inspect [DIR] [--json]`` and ``channels-buildpack procfile [DIR]``.

What the buildpack learns about an app, and the Procfile it would write: the build's static
analysis (:mod:`buildpack.core.analysis`), run locally; your code is never imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from buildpack.core import generate, procfile
from buildpack.core.analysis import analyze
from buildpack.core.report import plan_text
from buildpack.redact import redact_text


def inspect_main(args: argparse.Namespace) -> int:
    """``inspect``: the plan, as text or JSON; 1 when the app cannot be built."""
    plan = analyze(Path(args.dir))
    if args.json:
        sys.stdout.write(redact_text(json.dumps(plan.to_json(), indent=2)) + "\n")
    elif plan.kind == "none":
        sys.stdout.write(plan.reason + "\n")
    else:
        sys.stdout.write(f"{plan.kind}: {plan.reason}\n{plan_text(plan)}\n")
        for line in [*plan.warnings, *plan.procfile.warnings]:
            sys.stdout.write(f"warning: {line}\n")
        for line in plan.errors:
            sys.stdout.write(f"error: {line}\n")
        for name, command in plan.procfile.processes.items():
            sys.stdout.write(f"{name}: {command}\n")
    return 1 if plan.errors or plan.kind == "none" else 0


def procfile_main(args: argparse.Namespace) -> int:
    """``procfile``: the Procfile the build would write; 1 when the app cannot be built."""
    plan = analyze(Path(args.dir))
    if plan.errors or plan.kind == "none":
        sys.stderr.write("\n".join(plan.errors or [plan.reason]) + "\n")
        return 1
    sys.stdout.write(procfile.render(generate.process_commands(plan)))
    return 0
