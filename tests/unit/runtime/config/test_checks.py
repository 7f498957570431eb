"""System checks channels_buildpack.W001..W007, run the way users run them: a tiny Django
project in tmp_path, ``manage.py check --deploy`` in a child process, plus one child that
runs many fine-grained scenarios (``override_settings`` + environment) after one setup."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from buildpack.runtime.layers import MEMORY_BACKEND, REDIS_BACKEND, STOCK_MEMORY_BACKEND
from tests.support.checks_project import APPS, RUNNER, TLS_URL, clean_env, write_checks_project

IDS = [f"channels_buildpack.W00{i}" for i in range(1, 8)]
W001, W002, W003, W004, W005, W006, W007 = IDS
PLATFORM_HOST = "myapp-1a2b.herokuapp.com"

MEMORY = {"default": {"BACKEND": MEMORY_BACKEND}}
STOCK_MEMORY = {"default": {"BACKEND": STOCK_MEMORY_BACKEND}}
APPS_DAPHNE_LAST = [*APPS[1:5], "daphne", "buildpack"]


CLIENT_LIMIT = "CHANNELS_REDIS_MAXCLIENTS"
MINI = {"REDIS_URL": "redis://h:6379"}


def layer(*hosts: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": list(hosts)}}}


REDIS_APP = {"CHANNEL_LAYERS": layer("redis://h:6379"), "ALLOWED_HOSTS": [PLATFORM_HOST]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checks_project(tmp_path_factory.mktemp("checks_project"))


def manage_check(
    project: Path, *args: str, overrides: Any = None, errors: int = 0, **env: str
) -> tuple[str, set[str]]:
    """Output and channels_buildpack ids of ``manage.py check``; *errors*: Django/daphne
    errors expected alongside (they make the command exit 1)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=project,
        env=clean_env(TEST_OVERRIDES=json.dumps(overrides or {}), **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == (1 if errors else 0), output
    assert len(re.findall(r"^\?: \([\w.]+\.E\d{3}\)", output, re.M)) == errors, output
    assert "Traceback" not in output
    return output, set(re.findall(r"channels_buildpack\.W\d{3}", output))


# ---- manage.py check --deploy, for real --------------------------------------------------------


def test_deploy_check_corrected_project_has_no_warnings(project: Path) -> None:
    output, found = manage_check(
        project, "--deploy", DYNO="web.2", HEROKU_APP_DEFAULT_DOMAIN_NAME=PLATFORM_HOST
    )
    assert found == set(), output
    assert "System check identified" in output or "no issues" in output


def test_deploy_check_reports_each_misconfiguration(project: Path) -> None:
    overrides = {
        "CHANNEL_LAYERS": MEMORY,
        "ALLOWED_HOSTS": ["localhost"],
        "CSRF_TRUSTED_ORIGINS": [PLATFORM_HOST],
        "INSTALLED_APPS": APPS_DAPHNE_LAST,
        "ASGI_APPLICATION": "proj.asgi_open.application",
    }
    output, found = manage_check(
        project,
        "--deploy",
        overrides=overrides,
        errors=2,
        DYNO="web.2",
        HEROKU_APP_DEFAULT_DOMAIN_NAME=PLATFORM_HOST,
    )
    assert found == {W001, W003, W004, W005, W006}, output
    # W004/W005 restate Django's and daphne's own errors, with the platform's fix
    assert "(4_0.E001)" in output
    assert "(daphne.E001)" in output
    assert "HINT: Add Redis: heroku addons:create heroku-redis:mini" in output
    assert "AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))" in output


def test_deploy_check_reports_rediss_without_tls_options(project: Path) -> None:
    output, found = manage_check(
        project,
        "--deploy",
        overrides={"CHANNEL_LAYERS": layer(TLS_URL)},
        DYNO="web.1",
        HEROKU_APP_DEFAULT_DOMAIN_NAME=PLATFORM_HOST,
    )
    assert found == {W002}, output
    assert "CERTIFICATE_VERIFY_FAILED" in output


def test_plain_check_without_deploy_runs_none_of_them(project: Path) -> None:
    overrides = {"CHANNEL_LAYERS": MEMORY, "ASGI_APPLICATION": "proj.asgi_open.application"}
    output, found = manage_check(project, overrides=overrides, DYNO="web.2")
    assert found == set(), output


def test_settings_layer_adds_the_checks_app_and_fixes_allowed_hosts(project: Path) -> None:
    # no "buildpack" in INSTALLED_APPS: the settings layer (autoload) adds the checks app,
    # and its ALLOWED_HOSTS fix makes W003 go away; the rest is for the user to fix.
    overrides = {
        "CHANNEL_LAYERS": STOCK_MEMORY,
        "ALLOWED_HOSTS": ["localhost"],
        "CSRF_TRUSTED_ORIGINS": [PLATFORM_HOST],
        "INSTALLED_APPS": APPS_DAPHNE_LAST[:-1],
        "ASGI_APPLICATION": "proj.asgi_open.application",
    }
    output, found = manage_check(
        project,
        "--deploy",
        overrides=overrides,
        errors=2,
        DYNO="web.2",
        HEROKU_APP_DEFAULT_DOMAIN_NAME=PLATFORM_HOST,
        CHANNELS_BUILDPACK_SETTINGS="on",
    )
    assert found == {W001, W004, W005, W006}, output
    assert f"uses {MEMORY_BACKEND}" in output, "the layer replaced the stock in-memory layer"


# ---- fine-grained scenarios, one child process ------------------------------------------------

SCENARIOS: dict[str, tuple[dict[str, Any], set[str]]] = {
    # W001: in-memory layer with several processes
    "w001_web2": ({"env": {"DYNO": "web.2"}, "settings": {"CHANNEL_LAYERS": MEMORY}}, {W001}),
    "w001_worker1": ({"env": {"DYNO": "worker.1"}, "settings": {"CHANNEL_LAYERS": MEMORY}}, {W001}),
    "w001_stock": (
        {"env": {"DYNO": "web.3"}, "settings": {"CHANNEL_LAYERS": STOCK_MEMORY}},
        {W001},
    ),
    "w001_concurrency": (
        {"env": {"WEB_CONCURRENCY": "3"}, "settings": {"CHANNEL_LAYERS": MEMORY}},
        {W001},
    ),
    "w001_procfile_worker": (
        {"settings": {"CHANNEL_LAYERS": MEMORY, "BASE_DIR": "@with_worker"}},
        {W001},
    ),
    "w001_web1_alone": ({"env": {"DYNO": "web.1"}, "settings": {"CHANNEL_LAYERS": MEMORY}}, set()),
    "w001_no_dyno": ({"settings": {"CHANNEL_LAYERS": MEMORY}}, set()),
    "w001_concurrency_1": (
        {"env": {"WEB_CONCURRENCY": "1"}, "settings": {"CHANNEL_LAYERS": MEMORY}},
        set(),
    ),
    "w001_concurrency_garbage": (
        {"env": {"WEB_CONCURRENCY": "lots"}, "settings": {"CHANNEL_LAYERS": MEMORY}},
        set(),
    ),
    # our web launcher refuses to fork with an in-memory layer; another server forks
    "w001_concurrency_our_launcher": (
        {
            "env": {"WEB_CONCURRENCY": "2"},
            "settings": {"CHANNEL_LAYERS": MEMORY, "BASE_DIR": "@release_only"},
        },
        set(),
    ),
    "w001_concurrency_forking_server": (
        {
            "env": {"WEB_CONCURRENCY": "2"},
            "settings": {"CHANNEL_LAYERS": MEMORY, "BASE_DIR": "@forking_web"},
        },
        {W001},
    ),
    "w001_procfile_release_only": (
        {"settings": {"CHANNEL_LAYERS": MEMORY, "BASE_DIR": "@release_only"}},
        set(),
    ),
    "w001_redis_web2": (
        {"env": {"DYNO": "web.2"}, "settings": {"CHANNEL_LAYERS": layer("redis://h:6379")}},
        set(),
    ),
    "w001_no_layers": ({"env": {"DYNO": "web.2"}, "settings": {"CHANNEL_LAYERS": {}}}, set()),
    # W002: rediss:// without TLS options on a dyno
    "w002_string": (
        {"env": {"DYNO": "web.1"}, "settings": {"CHANNEL_LAYERS": layer(TLS_URL)}},
        {W002},
    ),
    "w002_dict": (
        {"env": {"DYNO": "web.1"}, "settings": {"CHANNEL_LAYERS": layer({"address": TLS_URL})}},
        {W002},
    ),
    "w002_verify_explicitly_on": (
        {
            "env": {"DYNO": "web.1", "CHANNELS_REDIS_TLS_VERIFY": "true"},
            "settings": {"CHANNEL_LAYERS": layer(TLS_URL)},
        },
        set(),
    ),
    "w002_fixed": (
        {
            "env": {"DYNO": "web.1"},
            "settings": {"CHANNEL_LAYERS": layer({"address": TLS_URL, "ssl_cert_reqs": None})},
        },
        set(),
    ),
    "w002_off_dyno": ({"settings": {"CHANNEL_LAYERS": layer(TLS_URL)}}, set()),
    "w002_plain_redis": (
        {"env": {"DYNO": "web.1"}, "settings": {"CHANNEL_LAYERS": layer("redis://h:6379")}},
        set(),
    ),
    # W003: ALLOWED_HOSTS on a dyno
    "w003_platform_missing": (
        {
            "env": {"DYNO": "web.1", "HEROKU_APP_DEFAULT_DOMAIN_NAME": PLATFORM_HOST},
            "settings": {"ALLOWED_HOSTS": ["localhost", "example.com"]},
        },
        {W003},
    ),
    "w003_platform_wildcard_domain": (
        {
            "env": {"DYNO": "web.1", "HEROKU_APP_DEFAULT_DOMAIN_NAME": PLATFORM_HOST},
            "settings": {"ALLOWED_HOSTS": [".herokuapp.com"]},
        },
        set(),
    ),
    "w003_platform_star": (
        {
            "env": {"DYNO": "web.1", "HEROKU_APP_DEFAULT_DOMAIN_NAME": PLATFORM_HOST},
            "settings": {"ALLOWED_HOSTS": ["*"]},
        },
        set(),
    ),
    "w003_only_local": (
        {"env": {"DYNO": "web.1"}, "settings": {"ALLOWED_HOSTS": ["localhost", "127.0.0.1"]}},
        {W003},
    ),
    "w003_empty": ({"env": {"DYNO": "web.1"}, "settings": {"ALLOWED_HOSTS": []}}, {W003}),
    "w003_public": (
        {"env": {"DYNO": "web.1"}, "settings": {"ALLOWED_HOSTS": ["example.com"]}},
        set(),
    ),
    "w003_off_dyno": ({"settings": {"ALLOWED_HOSTS": []}}, set()),
    # W004: CSRF_TRUSTED_ORIGINS without a scheme
    "w004_bare": (
        {"settings": {"CSRF_TRUSTED_ORIGINS": ["https://ok.com", "example.com"]}},
        {W004},
    ),
    "w004_fixed": ({"settings": {"CSRF_TRUSTED_ORIGINS": ["https://example.com"]}}, set()),
    "w004_empty": ({"settings": {"CSRF_TRUSTED_ORIGINS": []}}, set()),
    # W005: daphne after staticfiles
    "w005_after": ({"settings": {"INSTALLED_APPS": APPS_DAPHNE_LAST}}, {W005}),
    "w005_first": ({"settings": {"INSTALLED_APPS": APPS}}, set()),
    "w005_no_daphne": ({"settings": {"INSTALLED_APPS": APPS[1:]}}, set()),
    # W006: WebSocket routes without origin validation
    "w006_open": ({"settings": {"ASGI_APPLICATION": "proj.asgi_open.application"}}, {W006}),
    "w006_bare_router": ({"settings": {"ASGI_APPLICATION": "proj.asgi_bare.application"}}, {W006}),
    "w006_safe": ({"settings": {"ASGI_APPLICATION": "proj.asgi_safe.application"}}, set()),
    "w006_inner_validator": (
        {"settings": {"ASGI_APPLICATION": "proj.asgi_inner_validator.application"}},
        set(),
    ),
    "w006_per_route_validators": (
        {"settings": {"ASGI_APPLICATION": "proj.asgi_per_route.application"}},
        set(),
    ),
    "w006_one_nested_route_open": (
        {"settings": {"ASGI_APPLICATION": "proj.asgi_one_route_open.application"}},
        {W006},
    ),
    "w006_http_only": (
        {"settings": {"ASGI_APPLICATION": "proj.asgi_http_only.application"}},
        set(),
    ),
    "w006_plain_asgi_callable": (
        {"settings": {"ASGI_APPLICATION": "proj.asgi_plain.application"}},
        set(),
    ),
    "w006_unimportable": ({"settings": {"ASGI_APPLICATION": "proj.nope.application"}}, set()),
    "w006_unset": ({"settings": {"ASGI_APPLICATION": None}}, set()),
    # W007: more Redis clients than the plan allows (mini's 20 assumed on a dyno)
    "w007_nine_workers_on_mini": (
        {"env": {**MINI, "DYNO": "worker.9", "WEB_CONCURRENCY": "2"}, "settings": REDIS_APP},
        {W007},
    ),
    "w007_four_workers_fit": (
        {"env": {**MINI, "DYNO": "worker.4", "WEB_CONCURRENCY": "2"}, "settings": REDIS_APP},
        set(),
    ),
    "w007_plan_limit_given": (
        {
            "env": {**MINI, "DYNO": "worker.9", CLIENT_LIMIT: "40", "WEB_CONCURRENCY": "2"},
            "settings": REDIS_APP,
        },
        set(),
    ),
    "w007_raised_budget_bursts": (
        {
            "env": {**MINI, "DYNO": "worker.4", "CHANNELS_REDIS_MAX_CONNECTIONS": "10"},
            "settings": REDIS_APP,
        },
        {W007},
    ),
    "w007_app_json_formation": (
        {
            "env": {CLIENT_LIMIT: "20", "WEB_CONCURRENCY": "2"},
            "settings": {**REDIS_APP, "BASE_DIR": "@big_formation"},
        },
        {W007},
    ),
    "w007_limit_unknown_off_dyno": (
        {"env": {"WEB_CONCURRENCY": "2"}, "settings": {**REDIS_APP, "BASE_DIR": "@big_formation"}},
        set(),
    ),
    "w007_memory_layer": (
        {"env": {**MINI, "DYNO": "web.19"}, "settings": {"CHANNEL_LAYERS": MEMORY}},
        {W001},
    ),
}


@pytest.fixture(scope="module")
def scenario_results(project: Path) -> dict[str, list[list[Any]]]:
    payload = {}
    for name, (scenario, _) in SCENARIOS.items():
        copied = json.loads(json.dumps(scenario))
        base_dir = copied.get("settings", {}).get("BASE_DIR")
        if base_dir:  # "@dir": a directory of the project (holding a Procfile)
            copied["settings"]["BASE_DIR"] = str(project / base_dir[1:])
        payload[name] = copied
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER],
        cwd=project,
        env=clean_env(),
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: dict[str, list[list[Any]]] = json.loads(proc.stdout)
    return results


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_check_scenario(name: str, scenario_results: dict[str, list[list[Any]]]) -> None:
    expected = SCENARIOS[name][1]
    messages = scenario_results[name]
    assert {m[0] for m in messages} == expected, messages
    assert len(messages) == len(expected), "one message per problem"
    for _id, msg, hint, level in messages:
        assert msg
        assert hint, "every warning says how to fix it"
        assert level == 30  # checks.WARNING


def test_w001_message_names_the_reason(scenario_results: dict[str, list[list[Any]]]) -> None:
    assert "but this is dyno web.2:" in scenario_results["w001_web2"][0][1]
    assert "but WEB_CONCURRENCY > 1:" in scenario_results["w001_concurrency"][0][1]
    assert "the Procfile runs worker besides web" in scenario_results["w001_procfile_worker"][0][1]
    assert f"uses {STOCK_MEMORY_BACKEND}" in scenario_results["w001_stock"][0][1]


def test_w003_message_names_the_platform_host(scenario_results: dict[str, list[list[Any]]]) -> None:
    msg = scenario_results["w003_platform_missing"][0][1]
    assert f"does not include {PLATFORM_HOST}" in msg
    assert "['localhost', 'example.com']" in msg
    assert "the app's public host" in scenario_results["w003_empty"][0][1]


def test_w004_hint_gives_the_fixed_origins(scenario_results: dict[str, list[list[Any]]]) -> None:
    msg, hint = scenario_results["w004_bare"][0][1:3]
    assert "['example.com']" in msg
    assert hint == "Write them as ['https://example.com']."


def test_w006_message_names_the_application(scenario_results: dict[str, list[list[Any]]]) -> None:
    assert scenario_results["w006_open"][0][1].startswith("proj.asgi_open.application routes")


def test_w007_says_what_fits_and_how_to_fix_it(
    scenario_results: dict[str, list[list[Any]]],
) -> None:
    [[_, msg, hint, _]] = scenario_results["w007_nine_workers_on_mini"]
    assert "allows 20 Redis clients (assumed: heroku-redis:mini" in msg
    assert "web x1 (2 processes each) + worker x9 needs about 22 at rest" in msg
    assert "fewer processes" in hint and "larger Redis plan" in hint
    assert "CHANNELS_REDIS_MAX_CONNECTIONS=2" in hint
    [[_, msg, hint, _]] = scenario_results["w007_raised_budget_bursts"]
    assert "up to 50 in bursts with CHANNELS_REDIS_MAX_CONNECTIONS=10" in msg
    [[_, msg, _, _]] = scenario_results["w007_app_json_formation"]
    assert "web x2 (2 processes each) + worker x8 needs about 24 at rest" in msg


def test_register_is_idempotent() -> None:
    from django.core.checks.registry import registry

    from buildpack.runtime.config import checks

    before = set(registry.deployment_checks)
    checks.register()
    checks.register()
    added = set(registry.deployment_checks) - before
    assert added <= set(checks.ALL)
    assert set(checks.ALL) <= set(registry.deployment_checks)
    assert not set(checks.ALL) & set(registry.registered_checks)
    # leave the global registry as found
    registry.deployment_checks -= added
