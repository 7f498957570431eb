"""``buildpack.envvars`` owns every variable channels-buildpack reads: nothing else reads a
declared variable by its name, no ``CHANNELS_*`` variable goes undeclared, and the readers
keep the rules the README documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from buildpack import envvars, redact
from buildpack.messages import ConfigError
from tests.support.paths import PACKAGE, README, REPO

# Mappings the package reads variables from: the process environment and the build's
# config vars (bin/compile's ENV_DIR, the CNB platform's env/).
ENVIRONMENTS = ("environ", "env", "config_vars")
READS = ("get", "setdefault", "pop", "getenv")


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _literal_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, NAME)`` of every variable read by a literal name: ``environ.get("X")``,
    ``environ["X"]``, ``"X" in environ``, ``os.getenv("X")``."""
    found = []
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr in READS and (
                _receiver(node.func.value) in ENVIRONMENTS or node.func.attr == "getenv"
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and _receiver(node.value) in ENVIRONMENTS:
            key = node.slice
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and _receiver(node.comparators[0]) in ENVIRONMENTS
        ):
            key = node.left
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.append((node.lineno, key.value))
    return found


def _reads_outside_the_registry() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "envvars.py":
            continue
        for line, name in _literal_reads(ast.parse(path.read_text(), str(path))):
            if name in envvars.REGISTRY or name.startswith("CHANNELS_"):
                found.append(f"{path.relative_to(REPO)}:{line}: {name}")
    return found


def test_no_declared_or_channels_variable_is_read_by_its_name_elsewhere() -> None:
    found = _reads_outside_the_registry()
    assert not found, "read by name, not through buildpack.envvars:\n" + "\n".join(found)


def test_the_rule_sees_every_form_of_a_read_by_name() -> None:
    source = (
        'os.environ.get("DYNO")\n'
        'environ["CHANNELS_LAYER"]\n'
        '"REDIS_URL" in environ\n'
        'os.getenv("CHANNELS_NEW_THING")\n'
        'config_vars.get("CHANNELS_BUILDPACK_REDIS_ADDON", "")\n'
        'env.setdefault("PATH", "/bin")\n'  # not ours: pip's environment, not declared
        "environ.get(envvars.DYNO.name)\n"
    )
    assert [name for _, name in _literal_reads(ast.parse(source))] == [
        "DYNO",
        "CHANNELS_LAYER",
        "REDIS_URL",
        "CHANNELS_NEW_THING",
        "CHANNELS_BUILDPACK_REDIS_ADDON",
        "PATH",
    ]


def test_redact_shows_in_clear_exactly_the_public_variables() -> None:
    public = {name for name, variable in envvars.REGISTRY.items() if variable.public}
    assert public == redact._PUBLIC_VARS
    for secret in ("REDIS_URL", "DATABASE_URL", "CHANNELS_METRICS_TOKEN", "HIREFIRE_TOKEN"):
        assert secret in envvars.REGISTRY and secret not in public
        assert redact.describe_config_var(secret, "s3cr3t-value") == f"{secret}=***"


def test_the_pth_hook_says_yes_with_the_registry_words() -> None:
    line = (PACKAGE / "channels_buildpack.pth").read_text()
    assert envvars.SETTINGS.name in line
    words = re.search(r"in \(([^)]*)\)", line)
    assert words is not None
    assert set(re.findall(r'"([^"]+)"', words.group(1))) == envvars.TRUE


def test_every_channels_variable_in_the_readme_table_is_declared() -> None:
    table = README.read_text().split("### Variables", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(CHANNELS_[A-Z_]+)`", table))
    assert named, "the README's Variables table moved"
    assert named - set(envvars.REGISTRY) == set()


def test_the_redis_client_budget_has_one_default() -> None:
    from buildpack.runtime.layers import connections, formation

    assert envvars.REDIS_MAX_CONNECTIONS.default == 3
    assert connections.DEFAULT_CLIENT_BUDGET == formation.DEFAULT_BUDGET == 3
    assert envvars.redis_budget({}) == 3
    assert envvars.redis_budget({"CHANNELS_REDIS_MAX_CONNECTIONS": "x"}) == 3
    assert envvars.redis_max_connections({}) is None
    assert envvars.redis_max_connections({"CHANNELS_REDIS_MAX_CONNECTIONS": " 2 "}) == 2
    with pytest.raises(ConfigError, match=r"must be a positive whole number. Fix: e.g. .*=3"):
        envvars.redis_max_connections({"CHANNELS_REDIS_MAX_CONNECTIONS": "0"})


@pytest.mark.parametrize(
    ("value", "strict", "lenient"),
    [
        ("", None, None),
        ("auto", None, None),
        (" Yes ", True, True),
        ("off", False, False),
        ("sometimes", "raises", None),
    ],
)
def test_a_yes_no_variable(value: str, strict: object, lenient: bool | None) -> None:
    environ = {envvars.TLS_VERIFY.name: value}
    assert envvars.tls_verify(environ, strict=False) is lenient
    if strict == "raises":
        with pytest.raises(ConfigError, match=r"is not a yes/no value\. Fix: set it to true"):
            envvars.tls_verify(environ)
    else:
        assert envvars.tls_verify(environ) is strict


@pytest.mark.parametrize(
    ("variable", "default", "on", "off"),
    [
        (envvars.SETTINGS, True, ["on", "1", "auto", "garbage"], ["off", "0", " False ", "no"]),
        (envvars.QUIET, False, ["1", "yes", "garbage"], ["0", "off"]),
        (envvars.REDIS_ADDON, True, ["true", "yes"], ["false", "0", "NO"]),
    ],
)
def test_a_switch(
    variable: envvars.Variable[str], default: bool, on: list[str], off: list[str]
) -> None:
    assert envvars.switch(variable, default, {}) is default
    assert envvars.switch(variable, default, {variable.name: "  "}) is default
    for value in on:
        assert envvars.switch(variable, default, {variable.name: value}) is True, value
    for value in off:
        assert envvars.switch(variable, default, {variable.name: value}) is False, value


def test_numbers_fall_back_to_their_defaults_where_a_bad_value_must_stop_nothing() -> None:
    said: list[str] = []
    assert envvars.whole_number(envvars.PORT, {"PORT": "http"}, warn=said.append) == 8000
    assert said == ["PORT='http' is not a number; using 8000. Fix: set a whole number."]
    assert envvars.whole_number(envvars.WEB_CONCURRENCY, {"WEB_CONCURRENCY": "-3"}) == -3
    assert envvars.shutdown_timeout({"CHANNELS_SHUTDOWN_TIMEOUT": "0"}) == 25.0
    assert envvars.shutdown_timeout({"CHANNELS_SHUTDOWN_TIMEOUT": "2.5"}) == 2.5
    assert envvars.worker_concurrency({"CHANNELS_WORKER_CONCURRENCY": "-2"}) == 1
    assert envvars.worker_concurrency({"CHANNELS_WORKER_CONCURRENCY": "0"}) == 1
    assert envvars.worker_concurrency({"CHANNELS_WORKER_CONCURRENCY": "8"}) == 8
    assert envvars.proxy_hops({}) == 1
    assert envvars.proxy_hops({"CHANNELS_PROXY_HOPS": "-1"}) == 0
    assert envvars.proxy_hops({"CHANNELS_PROXY_HOPS": "two"}) is None
    assert envvars.redis_maxclients({"CHANNELS_REDIS_MAXCLIENTS": "0"}) is None
    assert envvars.redis_maxclients({"CHANNELS_REDIS_MAXCLIENTS": "40"}) == 40


def test_choices_name_what_they_accept() -> None:
    assert envvars.layer_choice({}) == "auto"
    assert envvars.layer_choice({"CHANNELS_LAYER": " PubSub "}) == "pubsub"
    with pytest.raises(ConfigError, match=r"CHANNELS_LAYER='x' is not one of auto, core,"):
        envvars.layer_choice({"CHANNELS_LAYER": "X"})
    assert envvars.web_server({"CHANNELS_WEB_SERVER": " Uvicorn "}) == "uvicorn"
    with pytest.raises(ConfigError, match=r"CHANNELS_WEB_SERVER='Hypercorn' .* daphne, uvicorn"):
        envvars.web_server({"CHANNELS_WEB_SERVER": "Hypercorn"})
    assert envvars.web_server_named({"CHANNELS_WEB_SERVER": " Uvicorn "}) == "uvicorn"


def test_the_engines_are_the_declared_choices() -> None:
    from buildpack.runtime.web import engines

    assert list(engines.MODULES) == list(envvars.WEB_SERVERS)
    for name, module in engines.MODULES.items():
        assert (REPO / Path(*module.split("."))).with_suffix(".py").is_file(), name
