"""The README's demo command works: build example/ through bin/*, run it with honcho."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.platform import REPO
from tests.support.ports import free_port

pytestmark = [pytest.mark.e2e]


def test_demo_builds_and_serves_the_example_app() -> None:
    command = [sys.executable, "-m", "tests.support.demo", "--check", "--port", str(free_port())]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "$ bin/detect  ->  Django Channels" in output
    assert "-----> Wrote a Procfile" in output
    assert "mode single-process (in-memory layer; background channels jobs run here)" in output
    assert 'chat -> {"message": "hi"' in output
    assert '"result": "DEMO"' in output
