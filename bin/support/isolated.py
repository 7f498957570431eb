"""``python -I bin/support/isolated.py COMMAND ...``: the channels-buildpack CLI of this checkout.

The bin/* shims run the build in isolated mode: neither the working directory (usually the
user's repository, which may hold a ``json/`` or ``typing.py``) nor PYTHONPATH is on
sys.path, so only the standard library, the app Python's site-packages and this buildpack
can be imported. This file puts the buildpack checkout first on sys.path (``-I`` drops the
PYTHONPATH the shims used to set), then runs the CLI.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from buildpack.cli import main

raise SystemExit(main(sys.argv[1:]))
