"""Which background channels an app routes, and which of them each worker process serves.

* the app's channels: the ``ChannelNameRouter`` under ``"channel"``, found through middleware
  wrappers at start (:func:`discover_channels`; no list in the Procfile);
* a worker's share: its ``--only``/``--exclude`` globs (:func:`select_channels`), whose
  options are defined here (:func:`add_channel_filters`) for the ``worker`` command line and
  for reading the Procfile's worker lines back;
* the Procfile's worker process types and what each one serves
  (:func:`worker_process_types`): ``channels-buildpack worker`` lines and ``manage.py
  runworker`` lists, for the autoscaling endpoint.

Used by the worker launcher, the web launcher in single-process mode and the autoscaling
endpoint.
"""

from __future__ import annotations

import argparse
import fnmatch
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from buildpack.core.procfile import parse, runworker_channels

PROCFILE_SEARCH_DEPTH = 3


def find_channel_router(application: Any, depth: int = 0) -> Any | None:
    """The ``ChannelNameRouter`` under the ``"channel"`` key, through middleware wrappers."""
    # Channels is the app's: the CLI imports this module (the worker's options) without it
    from channels.routing import ChannelNameRouter, ProtocolTypeRouter

    if application is None or depth > 12:
        return None
    if isinstance(application, ChannelNameRouter):
        return application
    if isinstance(application, ProtocolTypeRouter):
        return find_channel_router(application.application_mapping.get("channel"), depth + 1)
    for attr in ("application", "inner", "app"):
        inner = getattr(application, attr, None)
        if inner is not None and inner is not application:
            found = find_channel_router(inner, depth + 1)
            if found is not None:
                return found
    return None


def discover_channels(application: Any) -> list[str]:
    """Background channel names the application routes, sorted."""
    router = find_channel_router(application)
    return sorted(router.application_mapping) if router is not None else []


def select_channels(channels: Iterable[str], only: list[str], exclude: list[str]) -> list[str]:
    """Apply ``--only``/``--exclude`` glob patterns (the seed's --only/--exclude-channels)."""
    chosen = [c for c in channels if not only or any(fnmatch.fnmatchcase(c, p) for p in only)]
    return [c for c in chosen if not any(fnmatch.fnmatchcase(c, p) for p in exclude)]


def add_channel_filters(parser: argparse.ArgumentParser) -> None:
    """The worker's ``--only``/``--exclude`` options (``channels-buildpack worker``)."""
    parser.add_argument(
        "--only", action="append", default=[], metavar="GLOB", help="serve only matching channels"
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching channels"
    )


def channel_filters(words: list[str]) -> tuple[list[str], list[str]]:
    """``(only, exclude)`` from a worker's command-line words (other options ignored)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_channel_filters(parser)
    parsed, _ = parser.parse_known_args(words)
    return parsed.only, parsed.exclude


def find_procfile(start: Path) -> Path | None:
    """The Procfile in *start* or up to three folders above (``--chdir`` apps)."""
    for folder in [start, *start.parents][: PROCFILE_SEARCH_DEPTH + 1]:
        if (folder / "Procfile").is_file():
            return folder / "Procfile"
    return None


def served_by(command: str, channels: list[str]) -> list[str] | None:
    """The channels a Procfile command consumes, or None when it is not a worker."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if "runworker" in words:
        return [c for c in runworker_channels(words) if c in channels]
    if len(words) > 1 and words[0].endswith("channels-buildpack") and words[1] == "worker":
        only, exclude = channel_filters(words[2:])
        return select_channels(channels, only, exclude)
    return None


def worker_process_types(channels: list[str], start: Path | None = None) -> dict[str, list[str]]:
    """Process type -> channels it serves, from the Procfile (``{"worker": all}`` without one)."""
    path = find_procfile(start or Path.cwd())
    types: dict[str, list[str]] = {}
    if path is not None:
        for name, command in parse(path.read_text(encoding="utf-8", errors="replace")).items():
            served = served_by(command, channels)
            if served is not None:
                types[name] = served
    return types or {"worker": list(channels)}
