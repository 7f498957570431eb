"""What one of ``doctor``'s checks found: static ones (the build's analysis) and live ones
(:mod:`buildpack.runtime.ops.diagnose`) report the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["ok", "warn", "error"]


@dataclass
class Finding:
    """One check's outcome: *text* says what was found and, unless ok, the fix."""

    level: Level
    topic: str
    text: str
