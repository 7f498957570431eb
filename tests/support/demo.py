"""The demo: build ``example/`` like Heroku would, then run its Procfile with honcho.

    python3 dev.py demo [--port 8000] [--keep] [--check]

No Redis needed: without REDIS_URL the web process runs in single-process mode (chat
groups and the background ``jobs`` channel all in one process). ``--check`` does one HTTP
request, a chat round trip and a background job, then stops (used by the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.platform import REPO, Platform, system_path
from tests.support.ports import free_port, port_is_open, wait_for_port
from tests.support.ws import http_get, ws_roundtrip

EXAMPLE = REPO / "example"
ENV_FILE = "DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost\n"


def _banner(text: str) -> None:
    line = "=" * max(len(text), 40)
    print(f"\n{line}\n{text}\n{line}\n", flush=True)


def build(root: Path) -> Path:
    """Run the example through bin/detect, bin/compile, bin/release; return the slug dir."""
    print(f"dev.py demo: building {EXAMPLE} in {root} (like `git push heroku main`) ...\n")
    result = Platform(root).build(EXAMPLE, {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"})
    print(f"$ bin/detect  ->  {result.detect.stdout.strip()}")
    if result.compile is not None:
        print("$ bin/compile\n" + result.compile.output)
    if not result.ok:
        raise SystemExit("dev.py demo: the build failed (see above)")
    assert result.release is not None
    print("$ bin/release\n" + result.release.stdout)
    return result.app_dir


def check(port: int) -> None:
    """One HTTP request, a chat round trip and a background job; raises on failure."""
    status, body = http_get(f"http://127.0.0.1:{port}/")
    assert status == 200 and "Run background job" in body, (status, body[:200])
    chat = ws_roundtrip(f"ws://127.0.0.1:{port}/ws/chat/lobby/", '{"message": "hi"}', "hi")
    job = ws_roundtrip(f"ws://127.0.0.1:{port}/ws/jobs/", '{"job": "demo"}', "DEMO", timeout=20)
    print(f"dev.py demo: chat -> {asyncio.run(chat)}\ndev.py demo: job  -> {asyncio.run(job)}")


def run(app_dir: Path, port: int, do_check: bool) -> int:
    """``honcho start`` in the slug; print the URL once the web process accepts."""
    (app_dir / ".env").write_text(ENV_FILE)
    env = {
        **os.environ,
        "PATH": f"{app_dir / '.heroku' / 'python' / 'bin'}{os.pathsep}{system_path()}",
    }
    env.pop("VIRTUAL_ENV", None)
    command = [sys.executable, "-m", "honcho", "start", "-p", str(port), "web", "worker", "release"]
    honcho = subprocess.Popen(command, cwd=app_dir, env=env, start_new_session=do_check)
    try:
        wait_for_port(port, proc=honcho, timeout=90)
        status = 0
        while status != 200:  # bound early; ready once the app answers
            status, _ = http_get(f"http://127.0.0.1:{port}/health/", timeout=30)
        if do_check:
            check(port)
            return 0
        _banner(f"Open http://127.0.0.1:{port}/  (single-process mode, no Redis; Ctrl-C stops)")
        return honcho.wait()
    except KeyboardInterrupt:
        return honcho.wait(40)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGINT) if do_check else honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(40)
            except subprocess.TimeoutExpired:
                honcho.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.py demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keep", action="store_true", help="keep the build directory")
    parser.add_argument("--check", action="store_true", help="smoke-test, then stop")
    args = parser.parse_args(argv)
    port = args.port if not port_is_open(args.port) else free_port()
    root = Path(tempfile.mkdtemp(prefix="channels-buildpack-demo-"))
    try:
        return run(build(root), port, args.check)
    finally:
        if args.keep:
            print(f"dev.py demo: build kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
