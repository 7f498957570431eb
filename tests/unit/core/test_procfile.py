"""Unit tests for ``buildpack.core.procfile``: parse, render from ``Procfile.template``, lint."""

from __future__ import annotations

import pytest

from buildpack import messages
from buildpack.core.procfile import Commands, lint, parse, render
from tests.support.paths import PROCFILE_TEMPLATE

TEMPLATE = PROCFILE_TEMPLATE

GOOD_WEB = "channels-buildpack web mysite.asgi:application"
GOOD_DAPHNE = "daphne -b 0.0.0.0 -p $PORT --proxy-headers mysite.asgi:application"


# ---- parse ---------------------------------------------------------------------------------


def test_parse_ignores_comments_blank_and_invalid_lines() -> None:
    text = (
        "# web: commented out\n"
        "\n"
        "   \n"
        "web: daphne -p $PORT mysite.asgi:application   \n"
        "  indented: not a process line\n"
        "bad name: x\n"
        "no-colon-here\n"
        "empty:\n"
        "empty2:    \n"
        "worker:python manage.py runworker thumbnails\r\n"
        "release_phase-1: python manage.py migrate\n"
    )
    assert parse(text) == {
        "web": "daphne -p $PORT mysite.asgi:application",
        "worker": "python manage.py runworker thumbnails",
        "release_phase-1": "python manage.py migrate",
    }


def test_parse_last_duplicate_wins_in_first_position() -> None:
    processes = parse("web: one\nworker: w\nweb: two\n")
    assert processes == {"web": "two", "worker": "w"}
    assert list(processes) == ["web", "worker"]


def test_parse_keeps_colons_and_quotes_in_commands() -> None:
    processes = parse("web: gunicorn -b 0.0.0.0:$PORT 'a b' \"c:d\" # not a comment\n")
    assert processes == {"web": "gunicorn -b 0.0.0.0:$PORT 'a b' \"c:d\" # not a comment"}


def test_parse_empty() -> None:
    assert parse("") == {}
    assert parse("\n\n# only comments\n") == {}


# ---- render --------------------------------------------------------------------------------


def test_render_all_process_types() -> None:
    text = render(Commands(web="w --x", worker="k", release="r y"))
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert parse(text) == {"web": "w --x", "worker": "k", "release": "r y"}
    # The template's comment header is kept: people read the generated file.
    header = [line for line in TEMPLATE.read_text().splitlines() if line.startswith("#")]
    assert text.splitlines()[: len(header)] == header
    assert len(header) >= 1


def test_render_drops_empty_process_types() -> None:
    text = render(Commands(web=GOOD_WEB))
    assert parse(text) == {"web": GOOD_WEB}
    assert "worker:" not in text
    assert "release:" not in text
    assert text.endswith(GOOD_WEB + "\n")
    assert not text.endswith("\n\n")


def test_render_web_and_release_only() -> None:
    text = render(Commands(web="gunicorn p.wsgi:application", release="python manage.py migrate"))
    assert list(parse(text)) == ["web", "release"]
    assert "worker" not in text
    assert text.count("\n") == len(text.splitlines())


def test_render_does_not_expand_dollar_in_commands() -> None:
    text = render(Commands(web="daphne -p $PORT ${web} x"))
    assert parse(text)["web"] == "daphne -p $PORT ${web} x"


# ---- lint ----------------------------------------------------------------------------------


def lint_one(
    command: str, name: str = "web", channels: bool = True, background: list[str] | None = None
) -> list[str]:
    processes = {name: command}
    if name != "web":
        processes = {"web": GOOD_WEB, **processes}
    return lint(processes, channels=channels, background_channels=background or [])


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "gunicorn mysite.wsgi:application",
            [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name="web", server="gunicorn")],
        ),
        (
            "gunicorn mysite.asgi:application --workers 2",
            [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name="web", server="gunicorn")],
        ),
        (
            "uwsgi --http :$PORT --module mysite.wsgi",
            [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name="web", server="uwsgi")],
        ),
        (
            "waitress-serve --port=$PORT mysite.wsgi:application",
            [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name="web", server="waitress-serve")],
        ),
        (
            "bin/start mysite.wsgi",
            [messages.PROCFILE_WSGI_FOR_CHANNELS.format(name="web", server="start")],
        ),
        ("gunicorn -k uvicorn.workers.UvicornWorker mysite.asgi:application", []),
        ("gunicorn --worker-class=uvicorn_worker.UvicornWorker mysite.asgi:application", []),
        (
            "python manage.py runserver 0.0.0.0:$PORT",
            [messages.PROCFILE_RUNSERVER.format(name="web")],
        ),
        (
            "daphne -b 0.0.0.0 --proxy-headers mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_NO_PORT.format(name="web")],
        ),
        (
            "daphne -b 0.0.0.0 -p 8000 --proxy-headers mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_NO_PORT.format(name="web")],
        ),
        (
            "daphne -p $PORT --proxy-headers mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_LOOPBACK.format(name="web")],
        ),
        (
            "daphne -b 127.0.0.1 -p $PORT --proxy-headers mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_LOOPBACK.format(name="web")],
        ),
        (
            "daphne --bind=localhost --port=$PORT --proxy-headers mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_LOOPBACK.format(name="web")],
        ),
        (
            "daphne -b 0.0.0.0 -p $PORT mysite.asgi:application",
            [messages.PROCFILE_DAPHNE_NO_PROXY_HEADERS.format(name="web")],
        ),
        (
            "daphne -b 0.0.0.0 -p $PORT --proxy-headers mysite.asgi",
            [messages.PROCFILE_APP_NO_ATTR.format(name="web", app="mysite.asgi")],
        ),
        (
            "daphne mysite.asgi",
            [
                messages.PROCFILE_DAPHNE_NO_PORT.format(name="web"),
                messages.PROCFILE_DAPHNE_LOOPBACK.format(name="web"),
                messages.PROCFILE_DAPHNE_NO_PROXY_HEADERS.format(name="web"),
                messages.PROCFILE_APP_NO_ATTR.format(name="web", app="mysite.asgi"),
            ],
        ),
        (
            "uvicorn mysite.asgi --host 0.0.0.0 --port $PORT",
            [messages.PROCFILE_APP_NO_ATTR.format(name="web", app="mysite.asgi")],
        ),
        ("uvicorn mysite.asgi:application --host 0.0.0.0 --port $PORT", []),
        ("daphne -u /tmp/daphne.sock --proxy-headers mysite.asgi:application", []),
        ("daphne -e tcp:port=$PORT:interface=0.0.0.0 --proxy-headers m.asgi:application", []),
        ("/app/.heroku/python/bin/" + GOOD_DAPHNE, []),
        (GOOD_DAPHNE, []),
        (GOOD_WEB, []),
        (GOOD_WEB + " --chdir backend", []),
    ],
    ids=[
        "gunicorn-wsgi",
        "gunicorn-sync-worker-on-asgi",
        "uwsgi",
        "waitress",
        "wsgi-in-command",
        "gunicorn-uvicorn-worker",
        "gunicorn-worker-class-equals",
        "runserver",
        "daphne-no-port",
        "daphne-fixed-port",
        "daphne-no-bind",
        "daphne-loopback",
        "daphne-localhost-long-options",
        "daphne-no-proxy-headers",
        "daphne-no-attr",
        "daphne-everything-wrong",
        "uvicorn-no-attr",
        "uvicorn-ok",
        "daphne-unix-socket",
        "daphne-endpoint",
        "daphne-full-path",
        "daphne-ok",
        "channels-buildpack",
        "channels-buildpack-chdir",
    ],
)
def test_lint_web(command: str, expected: list[str]) -> None:
    assert lint_one(command) == expected


def test_wsgi_web_is_fine_for_plain_django() -> None:
    assert (
        lint({"web": "gunicorn mysite.wsgi:application"}, channels=False, background_channels=[])
        == []
    )
    assert lint({"web": "python manage.py runserver"}, channels=False, background_channels=[]) == []


@pytest.mark.parametrize(
    "command",
    [
        "python manage.py migrate && python manage.py check",
        "python manage.py migrate; python manage.py check",
        "python manage.py migrate || true",
        "python manage.py dumpdata | gzip",
    ],
    ids=["and", "semicolon", "or", "pipe"],
)
def test_lint_chains(command: str) -> None:
    assert lint_one(command, name="release") == [messages.PROCFILE_CHAIN.format(name="release")]


def test_lint_redirections_are_not_chains() -> None:
    assert lint_one("python manage.py runworker a 2>&1", name="worker") == []
    assert lint_one("python manage.py runworker a > /dev/null", name="worker") == []


def test_lint_chain_in_web_is_reported_with_other_mistakes() -> None:
    assert lint_one("python manage.py migrate && " + GOOD_DAPHNE) == [
        messages.PROCFILE_CHAIN.format(name="web")
    ]


@pytest.mark.parametrize(
    ("command", "warns"),
    [
        ("python manage.py runworker", True),
        ("python manage.py runworker thumbnails", False),
        ("python manage.py runworker thumbnails emails", False),
        ("python manage.py runworker -v 0 --settings=proj.prod", True),
        ("python manage.py runworker --layer default --settings proj.prod", True),
        ("python manage.py runworker --layer default -v 2 thumbnails", False),
    ],
    ids=["no-channel", "one", "two", "options-only", "option-values-only", "options-and-channel"],
)
def test_lint_runworker(command: str, warns: bool) -> None:
    expected = [messages.PROCFILE_RUNWORKER_NO_CHANNEL.format(name="worker")] if warns else []
    assert lint_one(command, name="worker", background=["thumbnails"]) == expected


def test_lint_no_web_process() -> None:
    warnings = lint(
        {"worker": "channels-buildpack worker m.asgi:application"},
        channels=True,
        background_channels=[],
    )
    assert warnings == [messages.PROCFILE_NO_WEB]
    assert lint({"worker": "x"}, channels=False, background_channels=[]) == []


@pytest.mark.parametrize(
    ("processes", "warns"),
    [
        ({"web": GOOD_WEB}, True),
        ({"web": GOOD_WEB, "release": "python manage.py migrate"}, True),
        ({"web": GOOD_WEB, "worker": "channels-buildpack worker m.asgi:application"}, False),
        ({"web": GOOD_WEB, "jobs": "python manage.py runworker thumbnails emails"}, False),
    ],
    ids=["web-only", "web-release", "cbp-worker", "runworker"],
)
def test_lint_background_channels_without_worker(processes: dict[str, str], warns: bool) -> None:
    warnings = lint(processes, channels=True, background_channels=["thumbnails", "emails"])
    expected = [messages.PROCFILE_NO_WORKER.format(channels="thumbnails, emails")] if warns else []
    assert warnings == expected


def test_correct_procfiles_yield_no_warnings() -> None:
    ours = {
        "web": GOOD_WEB + " --chdir backend",
        "worker": "channels-buildpack worker mysite.asgi:application --chdir backend",
        "release": "python backend/manage.py migrate --noinput",
    }
    theirs = {
        "web": GOOD_DAPHNE,
        "worker": "python manage.py runworker thumbnails emails",
        "release": "python manage.py migrate --noinput",
    }
    for processes in (ours, theirs):
        assert lint(processes, channels=True, background_channels=["thumbnails", "emails"]) == []


def test_lint_unbalanced_quotes_do_not_crash() -> None:
    assert lint_one("daphne -b 0.0.0.0 -p $PORT --proxy-headers 'mysite.asgi:application") == []


def test_lint_rendered_procfile_is_clean() -> None:
    text = render(
        Commands(
            web=GOOD_WEB,
            worker="channels-buildpack worker mysite.asgi:application",
            release="python manage.py migrate --noinput",
        )
    )
    assert lint(parse(text), channels=True, background_channels=["a"]) == []


# ---- Channels 1 commands -----------------------------------------------------------------------


def test_lint_channels1_daphne_target() -> None:
    command = "daphne -b 0.0.0.0 -p $PORT --proxy-headers my_project.asgi:channel_layer"
    assert lint_one(command) == [
        messages.PROCFILE_CHANNELS1_TARGET.format(
            name="web", app="my_project.asgi:channel_layer", module="my_project.asgi"
        )
    ]


def test_lint_channels1_seed_procfile() -> None:
    """The Procfile the Channels 1 deployment guide leads to."""
    warnings = lint(
        {
            "web": "daphne my_project.asgi:channel_layer",
            "worker": "python manage.py runworker --only-channels=http.* --only-channels=ws.*",
            "thumbs": "python manage.py runworker --exclude-channels thumbnail",
        },
        channels=True,
        background_channels=[],
    )
    channels1 = [w for w in warnings if "Channels 1" in w]
    assert channels1 == [
        messages.PROCFILE_CHANNELS1_TARGET.format(
            name="web", app="my_project.asgi:channel_layer", module="my_project.asgi"
        ),
        messages.PROCFILE_CHANNELS1_RUNWORKER.format(name="worker", option="--only-channels"),
        messages.PROCFILE_CHANNELS1_RUNWORKER.format(name="thumbs", option="--exclude-channels"),
    ]
    # The glob options take values: they are not channel names.
    assert messages.PROCFILE_RUNWORKER_NO_CHANNEL.format(name="thumbs") in warnings


@pytest.mark.parametrize(
    "command",
    [
        "channels-buildpack web my_project.asgi:application",
        "daphne -b 0.0.0.0 -p $PORT --proxy-headers my_project.asgi:channel_layers",
        "python manage.py runworker thumbnails --layer channel_layer",
    ],
)
def test_lint_channels4_commands_are_not_channels1(command: str) -> None:
    assert not [w for w in lint_one(command, name="web") if "Channels 1" in w]
