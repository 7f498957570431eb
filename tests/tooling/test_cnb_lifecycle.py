"""The CNB lifecycle emulation (``tests/support/cnb.py``) pinned to the spec, rule by rule.

Each test names the rule it pins (Buildpack API 0.10 as lifecycle 0.21 implements it;
``../shared/docs/cnb.md`` §1.5-§1.9) and drives it with tiny bash buildpacks, so that the
end-to-end tests of our buildpack run on an emulation that is itself checked.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.support.cnb import (
    Buildpack,
    Lifecycle,
    LifecycleError,
    apply_env_dir,
    build_base_env,
    with_user_env,
)


def _env_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "env"
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (directory / name).write_text(value)
    return directory


# -- env files (lifecycle env.addEnvDir) ------------------------------------------------------


def test_env_file_without_suffix_overrides(tmp_path: Path) -> None:
    env = {"A": "old"}
    apply_env_dir(env, _env_dir(tmp_path, {"A": "new"}))
    assert env == {"A": "new"}


def test_env_file_override_suffix(tmp_path: Path) -> None:
    env = {"A": "old"}
    apply_env_dir(env, _env_dir(tmp_path, {"A.override": "new"}))
    assert env["A"] == "new"


@pytest.mark.parametrize(("before", "after"), [(None, "d"), ("", "d"), ("set", "set")])
def test_env_file_default_sets_only_empty_or_unset(
    tmp_path: Path, before: str | None, after: str
) -> None:
    env = {} if before is None else {"A": before}
    apply_env_dir(env, _env_dir(tmp_path, {"A.default": "d"}))
    assert env["A"] == after


def test_env_file_prepend_and_append_use_the_delim_file(tmp_path: Path) -> None:
    env = {"P": "/old", "Q": "/old"}
    files = {"P.prepend": "/new", "P.delim": ":", "Q.append": "/new", "Q.delim": ":"}
    apply_env_dir(env, _env_dir(tmp_path, files))
    assert env == {"P": "/new:/old", "Q": "/old:/new"}


def test_env_file_prepend_without_delim_uses_no_delimiter(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin"}
    apply_env_dir(env, _env_dir(tmp_path, {"PATH.prepend": "/x/bin"}))
    assert env["PATH"] == "/x/bin/usr/bin"  # the pitfall: no ".delim", no ":"


def test_env_file_prepend_to_empty_adds_no_delimiter(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    apply_env_dir(env, _env_dir(tmp_path, {"P.prepend": "/new", "P.delim": ":"}))
    assert env["P"] == "/new"


def test_env_file_delim_and_unknown_suffixes_are_not_actions(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    apply_env_dir(env, _env_dir(tmp_path, {"D.delim": ":", "U.unknown": "x", "S.sbom": "y"}))
    assert env == {}


def test_env_file_contents_are_raw(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    apply_env_dir(env, _env_dir(tmp_path, {"A": " spaced \n"}))
    assert env["A"] == " spaced \n"


def test_env_files_apply_in_name_order_and_skip_directories(tmp_path: Path) -> None:
    directory = _env_dir(tmp_path, {"A.default": "first", "A.override": "second"})
    (directory / "B").mkdir()
    env: dict[str, str] = {}
    apply_env_dir(env, directory)
    assert env == {"A": "second"}  # "A.default" < "A.override": the default, then override


# -- build env (lifecycle env.NewBuildEnv, WithOverrides) --------------------------------------


def test_build_env_keeps_only_the_include_list_and_path_variables() -> None:
    environ = {"PATH": "/bin", "HOME": "/h", "HTTPS_PROXY": "p", "SECRET": "s", "CPATH": "/i"}
    assert build_base_env(environ) == {
        "PATH": "/bin",
        "HOME": "/h",
        "HTTPS_PROXY": "p",
        "CPATH": "/i",
    }


def test_user_env_names_are_verbatim_and_path_variables_are_prepended(tmp_path: Path) -> None:
    platform = tmp_path / "platform"
    _env_dir(platform, {"FOO.default": "x", "BAR": "b", "PATH": "/user/bin"})
    env = with_user_env({"PATH": "/bin", "BAR": "old"}, platform)
    assert env == {"PATH": "/user/bin:/bin", "BAR": "b", "FOO.default": "x"}


# -- a group of tiny bash buildpacks ----------------------------------------------------------


def _buildpack(
    root: Path, bp_id: str, build: str, detect: str = "exit 0", clear_env: bool = False
) -> Buildpack:
    path = root / bp_id.replace("/", "_")
    (path / "bin").mkdir(parents=True)
    clear = "clear-env = true\n" if clear_env else ""
    (path / "buildpack.toml").write_text(
        f'api = "0.10"\n\n[buildpack]\nid = "{bp_id}"\nversion = "1.0.0"\n{clear}'
    )
    for name, body in (("detect", detect), ("build", build)):
        script = path / "bin" / name
        script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + textwrap.dedent(body))
        script.chmod(0o755)
    return Buildpack.load(path)


def _lifecycle(
    tmp_path: Path, *buildpacks: Buildpack | tuple[Buildpack, bool], **env: str
) -> Lifecycle:
    app = tmp_path / "app"
    app.mkdir(parents=True, exist_ok=True)
    group = [b if isinstance(b, tuple) else (b, False) for b in buildpacks]
    lifecycle = Lifecycle(tmp_path / "lc", app, group, dict(env))
    lifecycle.host_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NOISE": "dropped"}
    return lifecycle


PROVIDER = """
    layers=$1
    mkdir -p "$layers/tool/bin" "$layers/tool/env" "$layers/tool/env.build" "$layers/hidden/bin"
    printf '#!/bin/sh\\necho tool-ran\\n' > "$layers/tool/bin/tool"
    chmod +x "$layers/tool/bin/tool"
    printf 'from-env' > "$layers/tool/env/SHARED.override"
    printf 'from-build' > "$layers/tool/env.build/ONLY_BUILD.override"
    printf '[types]\\nbuild = true\\n' > "$layers/tool.toml"
    printf '[types]\\nlaunch = true\\n' > "$layers/hidden.toml"
"""


def test_detect_exit_codes_pass_fail_error_and_optional(tmp_path: Path) -> None:
    passes = _buildpack(tmp_path, "t/pass", "exit 0")
    fails = _buildpack(tmp_path, "t/fail", "exit 0", detect="exit 100")
    errors = _buildpack(tmp_path, "t/error", "exit 0", detect="exit 1")
    assert _lifecycle(tmp_path / "a", passes).detect()
    assert not _lifecycle(tmp_path / "b", passes, fails).detect()
    assert not _lifecycle(tmp_path / "c", passes, errors).detect()  # 1 is an error, not a fail
    optional = _lifecycle(tmp_path / "d", passes, (fails, True))
    assert optional.detect()
    assert [b.id for b in optional.detected] == ["t/pass"]


def test_detect_rejects_a_top_level_version_in_requires(tmp_path: Path) -> None:
    bad = _buildpack(
        tmp_path,
        "t/bad",
        "exit 0",
        detect='printf \'[[requires]]\\nname = "x"\\nversion = "1"\\n\' > "$CNB_BUILD_PLAN_PATH"',
    )
    with pytest.raises(LifecycleError, match="version"):
        _lifecycle(tmp_path / "a", bad).detect()


def test_detect_and_build_see_the_cnb_variables_and_user_env_unless_clear_env(
    tmp_path: Path,
) -> None:
    show = 'env | grep -E "^(CNB_[A-Z_]+|CONFIG|NOISE)=" | sort\n'
    seen = _buildpack(tmp_path, "t/seen", show, detect=show + "exit 0")
    clear = _buildpack(tmp_path, "t/clear", show, clear_env=True)
    lifecycle = _lifecycle(tmp_path / "a", seen, clear, CONFIG="v")
    assert lifecycle.detect() and lifecycle.build()
    out = lifecycle.output("t/seen")
    for name in ("CNB_BUILDPACK_DIR", "CNB_PLATFORM_DIR", "CNB_BUILD_PLAN_PATH", "CNB_LAYERS_DIR"):
        assert f"{name}=" in out
    assert "CNB_TARGET_ARCH=amd64" in out and "CONFIG=v" in out and "NOISE" not in out
    assert "CONFIG" not in lifecycle.output("t/clear")


def test_build_layers_reach_later_buildpacks_and_others_do_not(tmp_path: Path) -> None:
    provider = _buildpack(tmp_path, "t/provider", PROVIDER)
    consumer = _buildpack(tmp_path, "t/consumer", "tool; echo ${SHARED}-${ONLY_BUILD}; ls $1/..\n")
    lifecycle = _lifecycle(tmp_path / "a", provider, consumer)
    assert lifecycle.detect() and lifecycle.build()
    assert "tool-ran\nfrom-env-from-build" in lifecycle.output("t/consumer")


def test_layer_without_types_is_renamed_ignore_and_top_level_flags_are_an_error(
    tmp_path: Path,
) -> None:
    untyped = _buildpack(tmp_path, "t/untyped", 'mkdir -p $1/x; printf "[types]\\n" > $1/x.toml\n')
    lifecycle = _lifecycle(tmp_path / "a", untyped)
    assert lifecycle.detect() and lifecycle.build()
    assert not (lifecycle.layers_dir / "t_untyped" / "x").exists()
    wrong = _buildpack(
        tmp_path, "t/wrong", 'mkdir -p $1/x; printf "launch = true\\n" > $1/x.toml\n'
    )
    lifecycle = _lifecycle(tmp_path / "b", wrong)
    assert lifecycle.detect()
    with pytest.raises(LifecycleError, match="types table"):
        lifecycle.build()


LAUNCHER = """
    layers=$1
    mkdir -p "$layers/app/bin" "$layers/app/env.launch/web" "$layers/app/exec.d/web" "$layers/b/env"
    printf '#!/bin/sh\\necho "$@"\\n' > "$layers/app/bin/say"; chmod +x "$layers/app/bin/say"
    printf 'web-only' > "$layers/app/env.launch/web/KIND.override"
    printf 'any' > "$layers/app/env.launch/KIND.default"
    printf 'layer-default' > "$layers/app/env.launch/CONFIG.default"
    printf '#!/usr/bin/env bash\\necho "FROM_EXEC_D = \\\\"$KIND\\\\"" >&3\\n' \\
        > "$layers/app/exec.d/web/set"
    chmod +x "$layers/app/exec.d/web/set"
    printf 'b-value' > "$layers/b/env/B.override"
    printf '[types]\\nlaunch = true\\n' > "$layers/app.toml"
    printf '[types]\\nbuild = true\\n' > "$layers/b.toml"
    cat > "$layers/launch.toml" <<'EOF'
    [[processes]]
    type = "web"
    command = ["say"]
    args = ["hello"]
    default = true

    [[processes]]
    type = "worker"
    command = ["say", "worker"]
    EOF
"""


def test_launch_env_comes_from_launch_layers_per_type_then_exec_d(tmp_path: Path) -> None:
    lifecycle = _lifecycle(tmp_path / "a", _buildpack(tmp_path, "t/launcher", LAUNCHER))
    assert lifecycle.detect() and lifecycle.build()
    web = lifecycle.launch_env(
        "web", {"PATH": "/usr/bin:/bin", "CONFIG": "user", "CNB_APP_DIR": "x"}
    )
    assert web["KIND"] == "web-only" and web["FROM_EXEC_D"] == "web-only"
    assert web["CONFIG"] == "user"  # a .default never beats the container env
    assert "B" not in web  # a build-only layer is not in the image
    assert "CNB_APP_DIR" not in web
    assert web["PATH"].startswith(str(lifecycle.layers_dir / "t_launcher" / "app" / "bin") + ":")
    worker = lifecycle.launch_env("worker", {"PATH": "/usr/bin:/bin"})
    assert worker["KIND"] == "any" and "FROM_EXEC_D" not in worker
    argv, cwd = lifecycle.launch_argv("web", web)
    assert argv[1:] == ["hello"] and argv[0].endswith("/app/bin/say") and cwd == lifecycle.app_dir
    assert lifecycle.launch_argv("web", web, ["bye"])[0][1:] == ["bye"]  # user args replace args
    assert lifecycle.launch_argv("worker", worker)[0][1:] == ["worker"]
    assert lifecycle.default_process == "web"


def test_a_failing_exec_d_program_fails_the_launch(tmp_path: Path) -> None:
    build = 'mkdir -p $1/l/exec.d; printf "#!/bin/sh\\nexit 3\\n" > $1/l/exec.d/x\n'
    build += "chmod +x $1/l/exec.d/x\n"
    build += 'printf "[types]\\nlaunch = true\\n" > $1/l.toml\n'
    lifecycle = _lifecycle(tmp_path / "a", _buildpack(tmp_path, "t/exec", build))
    assert lifecycle.detect() and lifecycle.build()
    with pytest.raises(LifecycleError, match=r"exec\.d"):
        lifecycle.launch_env("web", {"PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(
    ("processes", "error"),
    [
        ('[[processes]]\ntype = "web"\ncommand = "say hi"\n', "array"),
        ('[[processes]]\ntype = "web"\ncommand = ["say"]\ndirect = true\n', "direct"),
        (
            '[[processes]]\ntype = "a"\ncommand = ["x"]\ndefault = true\n'
            '[[processes]]\ntype = "b"\ncommand = ["x"]\ndefault = true\n',
            "default",
        ),
    ],
    ids=["string-command", "direct-key", "two-defaults"],
)
def test_launch_toml_rules(tmp_path: Path, processes: str, error: str) -> None:
    (tmp_path / "launch.toml").write_text(processes)
    build = f'cp {tmp_path / "launch.toml"} "$1/launch.toml"\n'
    lifecycle = _lifecycle(tmp_path / "a", _buildpack(tmp_path, "t/launch", build))
    assert lifecycle.detect()
    with pytest.raises(LifecycleError, match=error):
        lifecycle.build()


def test_a_later_buildpack_replaces_a_process_type(tmp_path: Path) -> None:
    first = 'printf \'[[processes]]\\ntype = "web"\\ncommand = ["a"]\\ndefault = true\\n\''
    first += " > $1/launch.toml\n"
    second = 'printf \'[[processes]]\\ntype = "web"\\ncommand = ["b"]\\n\' > $1/launch.toml\n'
    lifecycle = _lifecycle(
        tmp_path / "a",
        _buildpack(tmp_path, "t/first", first),
        _buildpack(tmp_path, "t/second", second),
    )
    assert lifecycle.detect() and lifecycle.build()
    assert lifecycle.processes["web"].command == ["b"]
    assert lifecycle.default_process is None  # a later non-default definition drops the default


CACHER = """
    layers=$1
    echo "restored: $(ls "$layers" | tr '\\n' ' ')"
    cat "$layers/cached.toml" "$layers/launchonly.toml" 2>/dev/null || true
    for name in cached launchonly buildonly; do
        mkdir -p "$layers/$name"; echo x > "$layers/$name/file"
    done
    printf '[types]\\ncache = true\\n\\n[metadata]\\nkey = "c1"\\n' > "$layers/cached.toml"
    printf '[types]\\nlaunch = true\\n\\n[metadata]\\nkey = "l1"\\n' > "$layers/launchonly.toml"
    printf '[types]\\nbuild = true\\n\\n[metadata]\\nkey = "b1"\\n' > "$layers/buildonly.toml"
"""


def test_export_and_restore_follow_the_layer_types(tmp_path: Path) -> None:
    lifecycle = _lifecycle(tmp_path / "a", _buildpack(tmp_path, "t/cache", CACHER))
    assert lifecycle.detect() and lifecycle.build()
    layers = lifecycle.layers_dir / "t_cache"
    assert sorted(p.name for p in layers.iterdir()) == [
        "launchonly",
        "launchonly.toml",
    ]  # the image
    assert lifecycle.build()
    out = lifecycle.output("t/cache").split("restored: ")[-1]
    assert out.startswith("cached cached.toml launchonly.toml")  # contents only for cache=true
    assert 'key = "c1"' in out and 'key = "l1"' in out and "b1" not in out
    assert "[types]" not in out.split("\n", 1)[1]  # types are not restored
