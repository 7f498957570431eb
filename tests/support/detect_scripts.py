"""Running ``bin/detect`` and its grep fallback (``bin/support/detect-fallback``) the way a
platform does: a plain environment, the machine's real ``python3`` first on ``PATH``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

BIN_DETECT = REPO / "bin" / "detect"
FALLBACK = REPO / "bin" / "support" / "detect-fallback"
# The build image's python3 is a real binary; a pyenv shim on PATH would dominate the timing.
REAL_PYTHON_DIR = str(Path(sys._base_executable).parent)  # type: ignore[attr-defined]
SCRIPT_PATH = os.pathsep.join([REAL_PYTHON_DIR, "/usr/bin", "/bin"])
# A stock manage.py, as detection looks for it.
MANAGE_PY = """
    import os
    import sys

    if __name__ == "__main__":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
"""


def run_script(
    script: Path, build_dir: Path, path: str = SCRIPT_PATH
) -> subprocess.CompletedProcess[str]:
    """Run *script* on *build_dir* with only *path* in the environment (and a locale)."""
    env = {"PATH": path, "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(script), str(build_dir)], capture_output=True, text=True, env=env, check=False
    )
