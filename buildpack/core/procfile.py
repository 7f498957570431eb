"""Procfiles: parse, lint the user's, render ours from ``Procfile.template``.

honcho parses Procfiles for local runs; at build time honcho is not installed in the app's
Python, and the format is one regular expression, so it is parsed here the same way
(``^name: command$``, other lines ignored).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from string import Template

from buildpack import messages
from buildpack.core.resources import read_template

MAX_PROCFILE_BYTES = 256 * 1024  # real ones are a few lines
PROCESS_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*?)\s*$")  # a blank command is no process
_CHAIN = re.compile(r"&&|\|\||(?<![<>]);|\|(?!\|)")
_WSGI_SERVERS = ("gunicorn", "uwsgi", "waitress-serve", "mod_wsgi-express", "bjoern")
_ASGI_WORKER_HINTS = ("uvicorn", "asgi", "daphne")
_CHANNELS1_RUNWORKER_OPTIONS = {"--only-channels", "--exclude-channels", "--threads"}


def parse(text: str) -> dict[str, str]:
    """Process types and commands, in file order (later duplicates win, like Heroku)."""
    processes: dict[str, str] = {}
    for line in text.splitlines():
        match = PROCESS_LINE.match(line)
        if match:
            processes[match.group(1)] = match.group(2)
    return processes


@dataclass(frozen=True)
class Commands:
    """The commands we generate for one project."""

    web: str
    worker: str = ""
    release: str = ""


def render(commands: Commands) -> str:
    """Procfile text from ``Procfile.template``; process types with no command are left out."""
    rendered = Template(read_template("Procfile.template")).substitute(
        web=commands.web, worker=commands.worker, release=commands.release
    )
    kept = [line for line in rendered.splitlines() if not re.match(r"^[A-Za-z0-9_-]+:\s*$", line)]
    return "\n".join(kept).rstrip("\n") + "\n"


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _option_value(words: list[str], *names: str) -> str | None:
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _positional_app(words: list[str]) -> str | None:
    """The ``module:attr`` (or bare module) argument of a server command line."""
    takes_value = {
        "-b", "--bind", "-p", "--port", "-e", "--endpoint", "-u", "--unix-socket", "--fd",
        "-k", "--worker-class", "-w", "--workers", "--chdir", "--log-file", "--access-log",
        "--host", "--root-path", "-t", "--timeout", "--ws-protocol", "--http-timeout",
        "--websocket_timeout", "--ping-interval", "--ping-timeout", "-v", "--verbosity",
        "--proxy-headers-host", "--proxy-headers-port", "--application-close-timeout",
        "-c", "--config", "--threads", "--env", "--app-dir",
    }  # fmt: skip
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in takes_value
            continue
        if "." in word or ":" in word:
            return word
    return None


def lint(processes: dict[str, str], *, channels: bool, background_channels: list[str]) -> list[str]:
    """Known mistakes in a user's Procfile, as warning texts (the file is never changed)."""
    warnings: list[str] = []
    for name, command in processes.items():
        words = _words(command)
        program = words[0].rsplit("/", 1)[-1] if words else ""
        if _CHAIN.search(command):
            warnings.append(messages.PROCFILE_CHAIN.format(name=name))
        if program == "daphne":
            warnings += _lint_daphne(name, words)
        if name == "web" and channels:
            warnings += _lint_channels_web(name, command, words, program)
        if program in ("daphne", "uvicorn", "gunicorn", "hypercorn"):
            app = _positional_app(words)
            if app and ":" not in app and program in ("daphne", "uvicorn", "hypercorn"):
                warnings.append(messages.PROCFILE_APP_NO_ATTR.format(name=name, app=app))
        warnings += _lint_channels1(name, words)
        if "runworker" in words and not runworker_channels(words):
            warnings.append(messages.PROCFILE_RUNWORKER_NO_CHANNEL.format(name=name))
    if channels and "web" not in processes:
        warnings.append(messages.PROCFILE_NO_WEB)
    if background_channels and not any(
        "runworker" in c or "channels-buildpack worker" in c for c in processes.values()
    ):
        warnings.append(messages.PROCFILE_NO_WORKER.format(channels=", ".join(background_channels)))
    return warnings


def _lint_channels1(name: str, words: list[str]) -> list[str]:
    """Channels 1 commands: ``daphne x.asgi:channel_layer``, ``runworker --only-channels``."""
    warnings = []
    for word in words[1:]:
        module, colon, attr = word.partition(":")
        if colon and attr == "channel_layer" and module:
            warnings.append(
                messages.PROCFILE_CHANNELS1_TARGET.format(name=name, app=word, module=module)
            )
    if "runworker" in words:
        for word in words:
            option = word.partition("=")[0]
            if option in _CHANNELS1_RUNWORKER_OPTIONS:
                warnings.append(
                    messages.PROCFILE_CHANNELS1_RUNWORKER.format(name=name, option=option)
                )
                break
    return warnings


def runworker_channels(words: list[str]) -> list[str]:
    """The channel names given to ``manage.py runworker`` (its options and their values skipped)."""
    takes_value = {"--layer", "-v", "--verbosity", "--settings", "--pythonpath"}
    takes_value |= _CHANNELS1_RUNWORKER_OPTIONS
    channels: list[str] = []
    skip = False
    for word in words[words.index("runworker") + 1 :]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            channels.append(word)
    return channels


def _lint_daphne(name: str, words: list[str]) -> list[str]:
    warnings = []
    endpoint = _option_value(words, "-e", "--endpoint") or ""
    has_socket = any(w in words for w in ("-u", "--unix-socket", "--fd")) or endpoint
    port = _option_value(words, "-p", "--port")
    bind = _option_value(words, "-b", "--bind")
    if not has_socket and (port is None or "PORT" not in port):
        warnings.append(messages.PROCFILE_DAPHNE_NO_PORT.format(name=name))
    if not has_socket and bind in (None, "127.0.0.1", "localhost"):
        warnings.append(messages.PROCFILE_DAPHNE_LOOPBACK.format(name=name))
    if "--proxy-headers" not in words:
        warnings.append(messages.PROCFILE_DAPHNE_NO_PROXY_HEADERS.format(name=name))
    return warnings


def _lint_channels_web(name: str, command: str, words: list[str], program: str) -> list[str]:
    if "runserver" in words:
        return [messages.PROCFILE_RUNSERVER.format(name=name)]
    if program in _WSGI_SERVERS:
        worker = _option_value(words, "-k", "--worker-class") or ""
        if not any(hint in worker for hint in _ASGI_WORKER_HINTS):
            return [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name=name, server=program)]
    if "wsgi" in command and program not in (
        "daphne",
        "uvicorn",
        "hypercorn",
        "channels-buildpack",
    ):
        return [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name=name, server=program or "?")]
    return []
