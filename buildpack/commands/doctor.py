"""``channels-buildpack doctor [DIR] [--host HOST] [--static]``: what would happen, what is wrong.

Two parts, kept apart:

1. static (this module, like the build: files are read, never imported): the build's analysis,
   the Procfile in effect and its lint, origin validation of WebSocket routes, static files;
2. live (:mod:`buildpack.runtime.ops.diagnose`, skipped with ``--static``): the app's settings
   loaded with the settings layer applied as on a web dyno, then Redis (reachable, TLS mode),
   the database, hosts and CSRF origins against the app's host, system checks, pending
   migrations.

Every finding says what is wrong and the fix; the exit status is 1 when one would break a
deploy (a build error, a host that would answer 400, an unreachable Redis...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from buildpack import messages
from buildpack.core.analysis import analyze
from buildpack.core.findings import Finding
from buildpack.core.plan import Plan
from buildpack.core.report import plan_text
from buildpack.redact import credential_values, redact_text

MARKS = {"ok": "ok  ", "warn": "WARN", "error": "FAIL"}


def static_findings(plan: Plan) -> list[Finding]:
    """What the build's analysis alone can tell."""
    if plan.kind == "none":
        return [Finding("error", "Detect", messages.DOCTOR_NOT_DETECTED.format(reason=plan.reason))]
    found = [Finding("error", "Build", text) for text in plan.errors]
    found += [Finding("warn", "Build", text) for text in plan.warnings]
    if plan.procfile.source == "user":
        found += [Finding("warn", "Procfile", text) for text in plan.procfile.warnings]
        if not plan.procfile.warnings:
            found.append(Finding("ok", "Procfile", "yours, kept as is; no known mistakes"))
    elif plan.procfile.source == "generated":
        found.append(Finding("ok", "Procfile", "none in the repository: the build writes one"))
    asgi = plan.asgi
    if asgi is not None and asgi.websocket_modules and asgi.origin_validation:
        found.append(Finding("ok", "WebSockets", "routes are wrapped in an origin validator"))
    return found


def what_would_happen(plan: Plan) -> list[str]:
    """The plan as the build log would show it, and the processes the platform would run."""
    if plan.kind == "none":
        return []
    lines = plan_text(plan).splitlines()
    source = {"user": "your Procfile", "generated": "the Procfile the build writes"}.get(
        plan.procfile.source, "no Procfile"
    )
    lines.append(f"Processes ({source}):")
    lines += [f"  {name}: {command}" for name, command in plan.procfile.processes.items()]
    return lines


def render(sections: list[tuple[str, list[str]]], findings: list[Finding]) -> str:
    """The report: sections of indented lines, then every finding with its mark."""
    out: list[str] = []
    for title, lines in sections:
        if lines:
            out += [title, *(f"       {line}" for line in lines), ""]
    out.append("Checks")
    for finding in findings:
        head, *rest = finding.text.splitlines() or [""]
        out.append(f"  {MARKS[finding.level]}  {finding.topic}: {head}")
        out += [f"        {line}" for line in rest]
    errors = sum(1 for f in findings if f.level == "error")
    warnings = sum(1 for f in findings if f.level == "warn")
    out += ["", messages.DOCTOR_SUMMARY.format(errors=errors, warnings=warnings)]
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    """Entry point; returns 1 when a finding would break a deploy."""
    root = Path(args.dir).resolve()
    plan = analyze(root, os.environ)
    findings = static_findings(plan)
    sections = [(f"What would happen on the platform ({root})", what_would_happen(plan))]
    if not args.static and plan.kind != "none" and not plan.errors:
        # late import: --static never loads the app's stack (Django, redis-py)
        from buildpack.runtime.ops.diagnose import live_checks

        release = "release" in plan.procfile.processes
        live = live_checks(root / plan.project_dir, plan.app_path, release, args.host)
        sections.append((live.title, live.lines))
        findings += live.findings
    text = render(sections, findings)
    sys.stdout.write(redact_text(text, credential_values(os.environ)) + "\n")
    return 1 if any(f.level == "error" for f in findings) else 0
