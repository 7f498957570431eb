"""``python -m bench [--quick | --tiny] [--only NAME ...] [--out DIR] [--loadgen KIND]``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path

from bench.common import FULL, PROFILES, QUICK, REPO, FamilyResult, raise_fd_limit, say

RESULTS = REPO / "bench" / "results"


def build_parser() -> argparse.ArgumentParser:
    from bench.families import FAMILIES

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks for channels-buildpack (real processes, loopback only).",
    )
    parser.add_argument("--quick", action="store_true", help="small loads (whole suite < 2 min)")
    parser.add_argument(
        "--tiny", action="store_true", help="smallest loads, for the test suite's smoke run"
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(FAMILIES), metavar="NAME",
        help=f"families to run (default: all): {', '.join(FAMILIES)}",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto",
        help="HTTP load generator: wrk if on PATH (auto), or force one",
    )  # fmt: skip
    parser.add_argument("--keep-workdir", action="store_true", help="keep builds and logs")
    return parser


def main(argv: list[str] | None = None) -> int:
    import sys

    from bench import envinfo, report
    from bench.families import FAMILIES
    from bench.load import choose_loadgen
    from bench.stack import Context

    raw = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(raw)
    profile = PROFILES["tiny"] if args.tiny else QUICK if args.quick else FULL
    names = args.only or list(FAMILIES)
    names = [n for n in FAMILIES if n in names]  # canonical order
    raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="channels-bench-"))
    ctx = Context(profile, workdir, choose_loadgen(args.loadgen))
    say(f"profile {profile.name}, families {', '.join(names)}, load generator {ctx.loadgen}")
    say(f"work dir {workdir}")
    started = time.monotonic()
    results: list[FamilyResult] = []
    try:
        ctx.bench_build()
        for name in names:
            module = FAMILIES[name]
            result = FamilyResult(name, module.TITLE)
            began = time.monotonic()
            say(f"== {name}: {module.TITLE}")
            try:
                module.run(ctx, result)
            except Exception as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                say(traceback.format_exc())
            result.seconds = time.monotonic() - began
            results.append(result)
            say(f"== {name} done in {result.seconds:.0f} s, {len(result.ratios)} ratios")
    finally:
        say("stopping everything ...")
        ctx.close()
    meta = envinfo.collect(ctx, raw)
    # Remove builds and logs while the results are written (tens of thousands of files).
    remover = None
    if not args.keep_workdir:
        remover = subprocess.Popen(["rm", "-rf", str(workdir)])
    say("writing results ...")
    meta["total_seconds"] = time.monotonic() - started
    meta["notes"] = ctx.notes
    suffix = "" if profile.name == "full" else f"-{profile.name}"
    stem = f"{meta['date']}-{meta['machine']}{suffix}"
    paths = report.write_all(args.out, stem, meta, results)
    for path in paths:
        say(f"wrote {path}")
    if remover is not None:
        remover.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        say(f"kept {workdir}")
    errors = [e for r in results for e in r.errors]
    for error in errors:
        say(f"ERROR {error}")
    say(f"done: suite {meta['total_seconds']:.0f} s, wall {time.monotonic() - started:.0f} s")
    return 1 if errors else 0
