"""How many Redis clients the app's processes need, from what one process can see.

A dyno cannot ask Heroku for the formation, so this is a lower bound from: ``app.json``'s
``formation`` (quantities), the dyno's own name (``worker.4`` means at least 4 workers),
the Procfile's process types and ``WEB_CONCURRENCY``. Clients per process are the layer's
design figures at rest (:data:`STEADY_CLIENTS`); the peak is the per-process budget
(``CHANNELS_REDIS_MAX_CONNECTIONS``, default 3). Pure: environment and files in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildpack import envvars, messages
from buildpack.core.procfile import parse

# Redis clients a process holds at rest, per Redis host: its blocking reader and one
# command connection; a pub/sub worker also holds its pub/sub subscription.
STEADY_CLIENTS = 2
PUBSUB_WORKER_STEADY_CLIENTS = 3
DEFAULT_BUDGET = envvars.REDIS_MAX_CONNECTIONS.default  # the most one process opens at peak
MINI_PLAN_CLIENTS = 20  # heroku-redis:mini, what bin/release requests
OUR_WEB = "channels-buildpack web"


@dataclass(frozen=True)
class Formation:
    """Processes that use the channel layer, and the Redis clients they need."""

    web_dynos: int
    web_processes: int  # per web dyno
    worker_dynos: int
    worker_clients: int  # per worker process, at rest
    budget: int  # per process, at peak

    @property
    def processes(self) -> int:
        return self.web_dynos * self.web_processes + self.worker_dynos

    @property
    def steady(self) -> int:
        """Clients at rest."""
        web = self.web_dynos * self.web_processes * STEADY_CLIENTS
        return web + self.worker_dynos * self.worker_clients

    @property
    def peak(self) -> int:
        """Clients if every process used its whole budget at once."""
        return self.processes * max(self.budget, STEADY_CLIENTS)

    def describe(self) -> str:
        """``web x2 (2 processes each) + worker x4``."""
        parts = []
        if self.web_dynos:
            each = f" ({self.web_processes} processes each)" if self.web_processes > 1 else ""
            parts.append(f"web x{self.web_dynos}{each}")
        if self.worker_dynos:
            parts.append(f"worker x{self.worker_dynos}")
        return " + ".join(parts) or "no web or worker process"


def _int(raw: object, default: int) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return default


def _find(name: str, places: list[Path]) -> Path | None:
    for place in places:
        if (place / name).is_file():
            return place / name
    return None


def app_json_quantities(places: list[Path]) -> dict[str, int]:
    """``formation`` quantities from the first ``app.json`` found (empty if none)."""
    path = _find("app.json", places)
    if path is None:
        return {}
    try:
        formation = json.loads(path.read_text(encoding="utf-8")).get("formation") or {}
        return {k: _int(v.get("quantity", 1), 1) for k, v in formation.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def procfile_processes(places: list[Path]) -> dict[str, str]:
    """The Procfile's process types (empty if none is found)."""
    path = _find("Procfile", places)
    return parse(path.read_text(encoding="utf-8", errors="replace")) if path else {}


def search_places(environ: Mapping[str, str], extra: Path | None = None) -> list[Path]:
    """Where the app's Procfile and app.json are: here, then the app root (``$HOME``)."""
    places = [Path.cwd()]
    if extra is not None:
        places.append(extra)
    home = envvars.HOME.raw(environ)
    if home:
        places.append(Path(home))
    return places


def visible_formation(
    environ: Mapping[str, str] = os.environ, places: list[Path] | None = None, *, pubsub: bool
) -> Formation:
    """The formation this process can see (a lower bound; see the module docstring)."""
    places = places if places is not None else search_places(environ)
    quantities = app_json_quantities(places)
    processes = procfile_processes(places)
    kind, index = envvars.dyno_kind_and_index(environ)
    own = {kind: _int(index, 1)} if kind in ("web", "worker") else {}
    web = (
        max(quantities.get("web", 1), own.get("web", 1))
        if "web" in processes or not processes
        else 0
    )
    has_worker = "worker" in processes or "worker" in quantities or "worker" in own
    worker = max(quantities.get("worker", 1), own.get("worker", 1)) if has_worker else 0
    web_command = processes.get("web", OUR_WEB)
    per_dyno = max(1, envvars.whole_number(envvars.WEB_CONCURRENCY, environ))
    return Formation(
        web_dynos=web,
        web_processes=per_dyno if OUR_WEB in web_command else 1,
        worker_dynos=worker,
        worker_clients=PUBSUB_WORKER_STEADY_CLIENTS if pubsub else STEADY_CLIENTS,
        budget=envvars.redis_budget(environ),
    )


def clients_text(pubsub: bool) -> str:
    """How many clients a process holds at rest, in words."""
    if pubsub:
        return (
            f"{STEADY_CLIENTS} per web process, {PUBSUB_WORKER_STEADY_CLIENTS} per pub/sub worker"
        )
    return f"{STEADY_CLIENTS} per process"


def verdict(formation: Formation, limit: int, now: int = 0) -> tuple[str, int] | None:
    """``("rest", need)`` when the formation (or what is connected *now* plus this dyno)
    exceeds *limit* at rest; ``("peak", need)`` when only a raised budget makes its bursts
    exceed it; None when it fits. At the default budget bursts beyond the limit wait for
    a connection (nothing is lost), which is not worth a warning."""
    rest = max(formation.steady, now)
    if rest > limit:
        return "rest", rest
    if formation.budget > DEFAULT_BUDGET and formation.peak > limit:
        return "peak", formation.peak
    return None


def over_limit_message(
    formation: Formation,
    limit: int,
    *,
    where: str,
    pubsub: bool,
    now: int = 0,
    connected: int | None = None,
    assumed: str = "",
) -> str | None:
    """The one-line warning for :func:`verdict` (None when the formation fits)."""
    found = verdict(formation, limit, now)
    if found is None:
        return None
    kind, need = found
    text = (
        messages.REDIS_CLIENTS_OVER_LIMIT
        if kind == "rest"
        else messages.REDIS_CLIENTS_PEAK_OVER_LIMIT
    )
    return text.format(
        where=where,
        limit=limit,
        assumed=assumed,
        formation=formation.describe(),
        need=need,
        rest=formation.steady,
        budget=formation.budget,
        clients=clients_text(pubsub),
        connected=f"; {connected} connected now" if connected is not None else "",
    )
