"""Where things are in this repository, for every test and support module (wherever it sits
in ``tests/``)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "buildpack"
FIXTURES = REPO / "tests" / "fixtures"
README = REPO / "README.md"
PROCFILE_TEMPLATE = REPO / "Procfile.template"
