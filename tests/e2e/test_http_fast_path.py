"""The HTTP fast path (issue 21): Django's sync request path in one thread hop, on both engines.

Every test runs the ``http_paths`` fixture app, which records each request's events
(``request_started``, the recording middleware around Django's default stack, the view,
``request_finished``, ``django.request`` log records) with the thread and the
``sync_to_async`` call ("hop") they ran in, as JSON lines in the file ``HP_EVENTS`` names.
Django's own ASGI path runs each event in a hop of its own; the fast path runs them in one.
"""

from __future__ import annotations

import collections
import http.client
import json
import re
import shutil
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from buildpack import envvars, messages
from buildpack.messages import LaunchError
from buildpack.runtime.ops.autoscale import METRICS_PATH
from buildpack.runtime.web import fastpath
from tests.support.apps import LOCAL_HOSTS, engine_vars
from tests.support.deployment import Deployment, Dyno
from tests.support.paths import FIXTURES
from tests.support.platform import Build, Platform
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e

APP = "http_paths"
OFF = {"CHANNELS_HTTP_FAST_PATH": "off"}
SYNC_CHAIN = [
    "started",
    "outer.request",
    "inner.request",
    "inner.view",
    "view",
    "inner.response",
    "outer.response",
    "finished",
]
Event = dict[str, Any]


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """What Django decides: everything but the date."""
        headers = sorted((k.lower(), v) for k, v in self.headers if k.lower() != "date")
        return self.status, headers, self.body


@dataclass
class Web:
    dyno: Dyno
    events_file: Path

    def request(self, path: str, method: str = "GET", body: bytes = b"", **headers: str) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.dyno.port, timeout=20)
        started = time.monotonic()
        try:
            names = {k.replace("_", "-"): v for k, v in headers.items()}
            conn.request(method, path, body=body or None, headers=names)
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, response.getheaders(), data, time.monotonic() - started)
        finally:
            conn.close()

    def all_events(self) -> list[Event]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines()]

    def events(self, rid: str, last: str = "finished", timeout: float = 15.0) -> list[Event]:
        """The events of request *rid*, once its *last* event is recorded."""
        deadline = time.monotonic() + timeout
        while True:
            events = [e for e in self.all_events() if e["rid"] == rid]
            if any(e["event"] == last for e in events) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)

    @property
    def output(self) -> str:
        return self.dyno.process.output()


def _web(
    platform: Platform,
    procs: ProcessGroup,
    build: Build,
    tmp_path: Path,
    name: str = "on",
    processes: int = 1,
    **env: str,
) -> Web:
    events = tmp_path / f"events-{name}.jsonl"
    env = {"HP_EVENTS": str(events), "HP_DATABASE": str(tmp_path / f"{name}.sqlite3"), **env}
    dyno = Deployment(platform, procs, build, {}).web(f"web.{name}", processes, env=env)
    return Web(dyno, events)


def _names(events: list[Event]) -> list[str]:
    return [e["event"] for e in events]


def _one_hop(events: list[Event]) -> bool:
    """All in one thread (not the event loop's) and one sync_to_async call."""
    return len({(e["thread"], e["hop"]) for e in events}) == 1 and events[0]["hop"] is not None


def _interleaved(events: list[Event]) -> list[str]:
    """Requests whose events on a thread were interrupted by another request's (in the
    order they were recorded): a request thread must serve one request at a time."""
    current: dict[tuple[int, int], str] = {}
    done: dict[tuple[int, int], set[str]] = collections.defaultdict(set)
    found = []
    for event in events:
        thread, rid = (event["pid"], event["thread"]), event["rid"]
        if current.get(thread, rid) != rid:
            done[thread].add(current[thread])
        if rid in done[thread]:
            found.append(rid)
        current[thread] = rid
    return found


def _by_name(events: list[Event]) -> dict[str, Event]:
    return {e["event"]: e for e in events}


@pytest.fixture
def paths_build(build_app: Callable[..., Build], web_engine: str) -> Build:
    build = build_app(APP, **LOCAL_HOSTS, **engine_vars(web_engine))
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build


# -- the path taken -----------------------------------------------------------------------


def test_a_sync_request_runs_in_one_thread_hop(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path)
    assert f"| {messages.FAST_PATH_ON} | pid" in web.output
    reply = web.request("/plain/?rid=one")
    assert (reply.status, reply.body) == (200, b"plain one")
    events = web.events("one")
    assert _names(events) == SYNC_CHAIN
    assert _one_hop(events), events
    assert not events[0]["main"]


def test_off_restores_djangos_own_path(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path, "off", **OFF)
    assert f"| {messages.FAST_PATH_OFF} | pid" in web.output
    assert web.request("/plain/?rid=one").status == 200
    events = web.events("one")
    assert _names(events) == SYNC_CHAIN
    assert len({e["thread"] for e in events}) == 1  # Django's request thread
    assert len({e["hop"] for e in events}) == len(events)  # each event a hop of its own


def _pipelined(port: int, rids: list[str]) -> list[str]:
    """GET /plain/ for each rid, all written at once on one keep-alive connection (HTTP/1.1
    pipelining); the status lines of the replies, in order (a body ends with no newline)."""
    wire = "".join(f"GET /plain/?rid={rid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" for rid in rids)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(wire.encode())
        received = b""
        while received.count(b"plain ") < len(rids):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    return re.findall(r"HTTP/1\.1 \d{3} [A-Za-z ]+(?=\r\n)", received.decode("latin-1"))


@pytest.mark.parametrize("path", ["fast", "djangos"])
def test_requests_that_follow_on_one_connection_start_afresh(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path, path: str
) -> None:
    """A request the server starts while sending the previous reply (the next one on a
    keep-alive or pipelined connection) must not inherit that reply's request thread."""
    extra = {"HP_ASYNC_MIDDLEWARE": "1"} if path == "djangos" else {}
    web = _web(platform, procs, paths_build, tmp_path, **extra)
    conn = http.client.HTTPConnection("127.0.0.1", web.dyno.port, timeout=20)
    try:
        for rid in ("ka0", "ka1", "ka2"):
            conn.request("GET", f"/plain/?rid={rid}")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, f"plain {rid}".encode())
    finally:
        conn.close()
    piped = [f"p{n}" for n in range(4)]
    assert _pipelined(web.dyno.port or 0, piped) == ["HTTP/1.1 200 OK"] * len(piped)
    for rid in ["ka0", "ka1", "ka2", *piped]:
        events = web.events(rid)
        assert _one_hop(events) if path == "fast" else len(events) > 1, (rid, events)
    assert _interleaved(web.all_events()) == []
    assert "Traceback" not in web.output


REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("plain", "/plain/?rid=plain", b"", {}),
    ("head", "/plain/?rid=head", b"", {"method": "HEAD"}),
    ("redirect", "/plain?rid=redirect", b"", {}),  # CommonMiddleware's APPEND_SLASH
    ("missing", "/missing/?rid=missing", b"", {}),
    ("async", "/async/?rid=async", b"", {}),
    ("stream", "/stream/?rid=stream", b"", {}),
    ("astream", "/astream/?rid=astream", b"", {}),
    ("file", "/file/?rid=file", b"", {}),
    ("template", "/template/?rid=template", b"", {}),
    ("boom", "/boom/?rid=boom", b"", {}),
    ("a2s", "/a2s/?rid=a2s", b"", {}),
    ("db", "/db/?rid=db", b"", {}),
    ("small", "/upload/?rid=small", b"x" * 100, {"method": "POST"}),
    ("big", "/upload/?rid=big", b"y" * 10_000, {"method": "POST"}),  # over the 4 KiB limit
    ("csrf", "/template/?rid=csrf", b"a=1", {"method": "POST"}),  # 403: no CSRF token
]


def _send_all(web: Web) -> dict[str, Reply]:
    replies = {}
    for rid, path, body, options in REQUESTS:
        method = options.get("method", "GET")
        replies[rid] = web.request(path, method, body, X_Forwarded_For="203.0.113.7")
    return replies


def _observable(event: Event) -> dict[str, Any]:
    """What an app can see of an event, less where it ran."""
    return {k: v for k, v in event.items() if k not in ("thread", "hop", "pid", "main")}


def _assert_matches_djangos_path(fast: Web, django: Web) -> dict[str, Reply]:
    """Every request of REQUESTS to both: the same response (byte for byte, but the date)
    and the same events in the same order (signals, middleware, views, log records)."""
    replies = [_send_all(web) for web in (fast, django)]
    for rid, _, _, _ in REQUESTS:
        assert replies[0][rid].comparable() == replies[1][rid].comparable(), rid
        seen = [[_observable(e) for e in web.events(rid)] for web in (fast, django)]
        assert seen[0] == seen[1], rid
    return replies[0]


def test_responses_signals_and_log_records_match_djangos_path(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    fast = _web(platform, procs, paths_build, tmp_path, "on")
    django = _web(platform, procs, paths_build, tmp_path, "off", **OFF)
    replies = _assert_matches_djangos_path(fast, django)
    assert _one_hop(fast.events("plain")), "the fast path was not taken"
    assert replies["boom"].status == 500 and replies["redirect"].status == 301
    assert json.loads(replies["big"].body) == {"size": 10_000}


# -- Django's promises, on the fast path ----------------------------------------------------


def test_sync_code_signals_and_log_records_stay_on_the_request_thread(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path)
    for rid in ("stream", "a2s", "boom", "file", "template"):
        assert web.request(f"/{rid}/?rid={rid}").status in (200, 500)
    stream = web.events("stream")
    assert _names(stream) == [*SYNC_CHAIN[:-1], "stream.chunk", "finished"]
    assert len({e["thread"] for e in stream}) == 1  # the sync iterator too, as in Django
    assert _one_hop(stream[:-2])
    a2s = _by_name(web.events("a2s"))
    assert a2s["a2s.coroutine"]["main"]  # async_to_sync: the coroutine on the event loop
    assert a2s["a2s.inner"]["thread"] == a2s["view"]["thread"]  # and back to the view's thread
    assert _one_hop([a2s[name] for name in SYNC_CHAIN[:5]])
    boom = web.events("boom")
    log = _by_name(boom)["log"]
    assert (log["level"], log["message"], log["status"], log["exc"]) == (
        "ERROR",
        "Internal Server Error: /boom/",
        500,
        "ValueError",
    )
    assert _one_hop(boom)
    assert _names(web.events("template")) == [*SYNC_CHAIN[:5], "inner.template", *SYNC_CHAIN[5:]]


def test_a_connection_opened_in_a_view_is_closed_after_the_request(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    """CONN_MAX_AGE=0: Django's request_finished receiver closes it, in the view's thread."""
    web = _web(platform, procs, paths_build, tmp_path)
    assert web.request("/db/?rid=db").body == b"db 1"
    assert _one_hop(web.events("db")), "the fast path was not taken"
    events = _by_name(web.events("db"))
    assert events["view"]["db_open"] is True
    assert events["finished"]["db_open"] == []
    assert events["finished"]["thread"] == events["view"]["thread"]
    assert web.request("/conns/?rid=conns").body == b"closed"  # in no thread of the process


def test_the_response_is_sent_before_it_is_closed(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    """Work in ``response.close()`` (request_finished receivers) does not delay the client."""
    web = _web(platform, procs, paths_build, tmp_path)
    web.request("/plain/?rid=warm")
    reply = web.request("/slow-close/?rid=slow&seconds=3")
    assert reply.body == b"closing slow" and reply.seconds < 2, reply.seconds
    events = web.events("slow")
    assert _names(events) == [*SYNC_CHAIN[:-1], "close.start", "finished"]
    assert _one_hop(events)


def test_access_log_forwarded_address_and_metrics(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path, CHANNELS_METRICS_TOKEN="t0ken")
    reply = web.request(
        "/whoami/?rid=who", X_Forwarded_For="198.51.100.9, 203.0.113.7", X_Forwarded_Proto="https"
    )
    assert reply.body == b"203.0.113.7 https"  # the entry the router appended
    assert _one_hop(web.events("who")), "the fast path was not taken"
    web.dyno.process.wait_for_output(r"203\.0\.113\.7.*GET /whoami/\?rid=who", timeout=10)
    metrics = web.request(METRICS_PATH, Authorization="Bearer t0ken")
    assert metrics.status == 200 and "channels" in json.loads(metrics.body)


# -- what takes Django's own path ------------------------------------------------------------


def test_async_views_and_spooled_bodies_take_djangos_path(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path)
    assert web.request("/async/?rid=async").body == b"async async"
    events = _by_name(web.events("async"))
    assert events["view"]["main"]  # on the event loop, as Django runs an async view
    assert events["outer.request"]["hop"] != events["inner.request"]["hop"]
    assert web.request("/upload/?rid=big", "POST", b"y" * 10_000).body == b'{"size": 10000}'
    big = _by_name(web.events("big"))
    assert big["outer.request"]["hop"] != big["inner.request"]["hop"]  # spooled: Django's path
    assert web.request("/upload/?rid=small", "POST", b"x" * 100).body == b'{"size": 100}'
    assert _one_hop(web.events("small"))


def test_an_async_only_middleware_takes_djangos_path_and_says_so_once(
    platform: Platform, procs: ProcessGroup, paths_build: Build, tmp_path: Path
) -> None:
    web = _web(platform, procs, paths_build, tmp_path, HP_ASYNC_MIDDLEWARE="1")
    for rid in ("one", "two"):
        assert web.request(f"/plain/?rid={rid}").body == f"plain {rid}".encode()
    events = web.events("two")
    assert _names(events) == [*SYNC_CHAIN[:3], "async.middleware", *SYNC_CHAIN[3:]]
    assert _by_name(events)["async.middleware"]["main"]
    assert len({e["hop"] for e in events if not e["main"]}) == len(events) - 1
    lines = [line for line in web.output.splitlines() if "http fast path not used" in line]
    assert len(lines) == 1 and "middleware hp.middleware.AsyncOnly is async-only" in lines[0]


@pytest.mark.redis
@pytest.mark.alone  # both processes must get connections: the OS schedules who accepts
def test_each_process_of_a_scaled_dyno_takes_the_fast_path(
    platform: Platform,
    procs: ProcessGroup,
    paths_build: Build,
    tmp_path: Path,
    redis_server: RedisServer,
) -> None:
    web = _web(platform, procs, paths_build, tmp_path, processes=2, REDIS_URL=redis_server.url)
    assert "processes 2" in web.output and messages.FAST_PATH_ON in web.output
    rids: list[str] = []
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:  # bursts of new connections until both accepted some
        while len({e["pid"] for e in web.all_events()}) < 2 and time.monotonic() < deadline:
            batch = [f"b{len(rids) + n}" for n in range(8)]
            for reply in pool.map(lambda rid: web.request(f"/plain/?rid={rid}"), batch):
                assert reply.status == 200, web.output[-4000:]
            rids += batch
    assert {e["pid"] for e in web.all_events()} == set(web.dyno.pids)
    for rid in rids:
        assert _one_hop(web.events(rid)), rid


@pytest.mark.redis
@pytest.mark.parametrize("path", ["fast", "djangos"])
def test_a_scaled_dyno_answers_every_new_connection(
    platform: Platform,
    procs: ProcessGroup,
    paths_build: Build,
    tmp_path: Path,
    redis_server: RedisServer,
    path: str,
) -> None:
    """480 requests, 8 new connections at a time, on two processes: the way each process
    takes turns at accepting (it watches the socket again after a pause) must not carry a
    finished request's context into the connections accepted afterwards. It did, on the
    Daphne engine: from the first such turn on, every fast-path request of that process
    failed (about 470 of 480), and on Django's own path every request shared the stale
    request's thread, one at a time (all answered, silently serialised)."""
    extra = {"HP_ASYNC_MIDDLEWARE": "1"} if path == "djangos" else {}
    web = _web(
        platform, procs, paths_build, tmp_path, processes=2, REDIS_URL=redis_server.url, **extra
    )
    statuses: collections.Counter[int] = collections.Counter()
    with ThreadPoolExecutor(8) as pool:
        for batch in range(60):
            rids = [f"n{batch}-{n}" for n in range(8)]
            replies = pool.map(lambda rid: web.request(f"/plain/?rid={rid}"), rids)
            statuses.update(reply.status for reply in replies)
    assert statuses == {200: 480}, web.output[-3000:]
    assert "Traceback" not in web.output
    shared = _interleaved(web.all_events())  # a request thread serves one request at a time
    assert not shared, f"{len(shared)} requests shared a busy thread, from {shared[0]} on"


# -- the switch -------------------------------------------------------------------------------


def test_the_switch_reads_yes_no_values() -> None:
    for value in ("", "on", "true", "1", "yes", "auto", " ON "):
        assert fastpath.enabled({envvars.HTTP_FAST_PATH.name: value}) is True, value
    for value in ("off", "false", "0", "no", "Off"):
        assert fastpath.enabled({envvars.HTTP_FAST_PATH.name: value}) is False, value
    with pytest.raises(LaunchError, match="CHANNELS_HTTP_FAST_PATH='sometimes' is not a yes/no"):
        fastpath.enabled({envvars.HTTP_FAST_PATH.name: "sometimes"})


def test_a_bad_value_stops_the_web_process_with_one_line(
    platform: Platform, procs: ProcessGroup, build_app: Callable[..., Build]
) -> None:
    build = build_app(APP, **LOCAL_HOSTS)
    process = platform.start(
        procs, build, "web", port=free_port(), env={envvars.HTTP_FAST_PATH.name: "sometimes"}
    )
    assert process.wait(30) == 1
    output = process.output()
    lines = [line for line in output.splitlines() if envvars.HTTP_FAST_PATH.name in line]
    assert len(lines) == 1, output
    assert "'sometimes' is not a yes/no value. Fix: set it to true, false or auto" in lines[0]
    assert "Traceback" not in output


# -- other Django versions ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("django", ["4.2", "6"])
def test_other_django_versions_keep_djangos_behaviour(
    platform: Platform, procs: ProcessGroup, tmp_path: Path, django: str
) -> None:
    """Django 4.2 (no disconnect listener, no async signals) and 6.x (Python 3.12+)."""
    source = tmp_path / "app"
    shutil.copytree(FIXTURES / APP, source)
    if django == "4.2":
        requirements = source / "requirements.txt"
        requirements.write_text(requirements.read_text().replace(">=4.2", "==4.2.*", 1))
    else:
        (source / ".python-version").write_text("3.12\n")
    try:
        build = platform.build(source, dict(LOCAL_HOSTS))
    except LookupError as exc:  # no Python 3.12 on this machine
        pytest.skip(str(exc))
    assert build.ok, build.compile.output if build.compile else ""
    fast = _web(platform, procs, build, tmp_path, "on")
    own = _web(platform, procs, build, tmp_path, "off", **OFF)
    version = fast.request("/version/").body.decode()
    assert version.startswith("4.2." if django == "4.2" else "6."), version
    _assert_matches_djangos_path(fast, own)
    plain = fast.events("plain")
    assert _names(plain) == SYNC_CHAIN
    assert _one_hop(plain[:-1])  # Django < 5.0.2 closes the response in send_response: a
    assert plain[-1]["thread"] == plain[0]["thread"]  # call back into the same thread
