"""Unit tests for buildpack.core.deps: static reading of an app's declared dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildpack.core.deps import (
    MAX_FILE_BYTES,
    Dependencies,
    Requirement,
    read_dependencies,
)
from tests.support.projects import dependencies_of as read

# ---- requirements.txt ---------------------------------------------------------------------


def test_requirements_basic_names_specifiers_and_sources(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "Django>=4.2,<5.0\nchannels==4.1.0\ndaphne\n"})
    assert deps.declared == {
        "django": Requirement("django", ">=4.2,<5.0", source="requirements.txt:1"),
        "channels": Requirement("channels", "==4.1.0", source="requirements.txt:2"),
        "daphne": Requirement("daphne", "", source="requirements.txt:3"),
    }
    assert deps.files == ["requirements.txt"]
    assert deps.problems == []
    assert deps.manager == "pip"


def test_requirements_names_are_canonicalized(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "Channels_Redis>=4\nZope.Interface\n"})
    assert list(deps.declared) == ["channels-redis", "zope-interface"]
    assert deps.has("CHANNELS.redis")
    assert deps.has("zope_interface")
    assert not deps.has("redis")


def test_requirements_comments_and_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    content = """
        # a comment

        django==4.2  # pinned for LTS
            # indented comment
        redis>=5 # trailing
    """
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["django"].specifier == "==4.2"
    assert deps.declared["django"].source == "requirements.txt:3"
    assert deps.declared["redis"].source == "requirements.txt:5"
    assert deps.problems == []


def test_requirements_hash_in_url_fragment_is_not_a_comment(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "git+https://github.com/a/b.git#egg=My_Pkg\n"})
    assert deps.declared["my-pkg"].url == "git+https://github.com/a/b.git#egg=My_Pkg"
    assert deps.declared["my-pkg"].source == "requirements.txt:1"


def test_requirements_line_continuation_uses_first_physical_line(tmp_path: Path) -> None:
    content = "redis\nchannels-redis\\\n>=4.2,\\\n<5\nasgiref\n"
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["channels-redis"] == Requirement(
        "channels-redis", ">=4.2,<5", source="requirements.txt:2"
    )
    assert deps.declared["asgiref"].source == "requirements.txt:5"


def test_requirements_hashes_on_continuation_lines(tmp_path: Path) -> None:
    content = """
        django==4.2.11 \\
            --hash=sha256:aaaa \\
            --hash=sha256:bbbb
        daphne==4.1.2 --hash=sha256:cccc
    """
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["django"] == Requirement("django", "==4.2.11", source="requirements.txt:1")
    assert deps.declared["daphne"] == Requirement("daphne", "==4.1.2", source="requirements.txt:4")
    assert deps.problems == []


def test_requirements_extras_are_canonical_and_sorted(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "uvicorn[Standard,Extra_B]>=0.30\n"})
    assert deps.declared["uvicorn"].extras == ("extra-b", "standard")
    assert deps.declared["uvicorn"].specifier == ">=0.30"


def test_requirements_marker_text(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "tomli>=2; python_version < '3.11'\n"})
    assert deps.declared["tomli"].marker == 'python_version < "3.11"'
    assert deps.declared["tomli"].specifier == ">=2"


def test_requirements_pep508_direct_reference(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "mylib @ https://example.com/mylib-1.0.tar.gz\n"})
    assert deps.declared["mylib"] == Requirement(
        "mylib", url="https://example.com/mylib-1.0.tar.gz", source="requirements.txt:1"
    )


def test_requirements_editable_vcs_egg_name(tmp_path: Path) -> None:
    content = "-e git+https://github.com/x/y.git@v1#egg=Foo_Bar\n"
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared == {
        "foo-bar": Requirement(
            "foo-bar",
            url="git+https://github.com/x/y.git@v1#egg=Foo_Bar",
            source="requirements.txt:1",
        )
    }


def test_requirements_editable_long_option_and_egg_extras(tmp_path: Path) -> None:
    content = "--editable=git+https://github.com/x/y.git#egg=thing[Extra]&subdirectory=src\n"
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["thing"].extras == ("extra",)
    assert deps.declared["thing"].url.startswith("git+https://github.com/x/y.git#egg=")


def test_requirements_editable_local_path_named_by_pyproject(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-e ./libs/core\n",
            "libs/core/pyproject.toml": '[project]\nname = "Core_Lib"\n',
        },
    )
    assert deps.declared["core-lib"] == Requirement(
        "core-lib", url="./libs/core", source="requirements.txt:1"
    )


def test_requirements_editable_local_path_named_by_poetry(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-e libs/poet\n",
            "libs/poet/pyproject.toml": '[tool.poetry]\nname = "poet-lib"\n',
        },
    )
    assert list(deps.declared) == ["poet-lib"]


def test_requirements_editable_local_path_named_by_setup_cfg(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-e ./vendor/widget[fancy]\n",
            "vendor/widget/setup.cfg": "[metadata]\nname = Widget.Kit\n",
        },
    )
    assert deps.declared["widget-kit"].extras == ("fancy",)
    assert deps.declared["widget-kit"].url == "./vendor/widget"


def test_requirements_editable_dot_is_the_project_itself(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-e .[web]\n",
            "pyproject.toml": '[project]\nname = "My-App"\ndependencies = ["daphne"]\n',
        },
    )
    assert deps.declared["my-app"] == Requirement(
        "my-app", extras=("web",), url=".", source="requirements.txt:1"
    )
    assert deps.declared["daphne"].source == "pyproject.toml [project.dependencies]"
    assert deps.files == ["requirements.txt", "pyproject.toml"]


def test_requirements_editable_without_value_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django\n-e\n"})
    assert deps.problems == ["requirements.txt:2: option '-e' needs a value"]
    assert list(deps.declared) == ["django"]


def test_requirements_editable_local_path_falls_back_to_directory_name(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "-e ./src/My_Thing\n"})
    assert deps.declared["my-thing"].url == "./src/My_Thing"
    assert deps.problems == []


def test_requirements_bare_wheel_and_sdist_urls(tmp_path: Path) -> None:
    content = """
        https://files.example.com/p/Some_Pkg-1.0-py3-none-any.whl
        https://files.example.com/p/django-extra-tools-2.0.1.tar.gz ; python_version >= "3.10"
        ./dist/local_tool-0.3.zip
    """
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["some-pkg"].url == (
        "https://files.example.com/p/Some_Pkg-1.0-py3-none-any.whl"
    )
    assert deps.declared["django-extra-tools"].marker == 'python_version >= "3.10"'
    assert deps.declared["django-extra-tools"].source == "requirements.txt:2"
    assert deps.declared["local-tool"].url == "./dist/local_tool-0.3.zip"
    assert deps.problems == []


def test_requirements_vcs_url_without_editable(tmp_path: Path) -> None:
    content = "git+ssh://git@github.com/org/private.git@main#egg=private_app\n"
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["private-app"].url == content.strip()


def test_requirements_url_without_any_name_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django\nhttps://example.com/download/latest\n"})
    assert list(deps.declared) == ["django"]
    assert deps.problems == [
        "requirements.txt:2: cannot determine the package name of "
        "'https://example.com/download/latest' (add #egg=<name>)"
    ]


def test_requirements_env_vars_are_left_as_is(tmp_path: Path) -> None:
    content = "private @ https://${TOKEN}@example.com/private-1.0.tar.gz\n"
    deps = read(tmp_path, {"requirements.txt": content})
    assert deps.declared["private"].url == "https://${TOKEN}@example.com/private-1.0.tar.gz"


def test_requirements_option_lines_are_ignored(tmp_path: Path) -> None:
    content = """
        --index-url https://pypi.example.com/simple
        -i https://pypi.example.com/simple
        --extra-index-url=https://extra.example.com/simple
        --find-links ./wheels
        -f ./wheels
        --prefer-binary
        --pre
        --no-binary :all:
        --only-binary=psycopg
        --trusted-host pypi.example.com
        --use-feature truststore
        --require-hashes
        daphne
    """
    deps = read(tmp_path, {"requirements.txt": content})
    assert list(deps.declared) == ["daphne"]
    assert deps.declared["daphne"].source == "requirements.txt:13"
    assert deps.problems == []


def test_requirements_unknown_option_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "--frobnicate yes\ndjango\n"})
    assert deps.problems == ["requirements.txt:1: unsupported option '--frobnicate' ignored"]
    assert list(deps.declared) == ["django"]


def test_requirements_bad_line_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django\n\nfoo bar baz\nredis\n"})
    assert list(deps.declared) == ["django", "redis"]
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("requirements.txt:3: cannot parse 'foo bar baz'")


def test_requirements_invalid_marker_keeps_requirement(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django>=4.2; python_version <> '3'\n"})
    requirement = deps.declared["django"]
    assert requirement.specifier == ">=4.2"
    assert requirement.marker == "python_version <> '3'"
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("requirements.txt:1: invalid marker 'python_version <> '3''")
    # An unevaluable marker does not hide the requirement.
    assert deps.has("django")


def test_requirements_first_declaration_wins(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django>=4.2\nDjango==5.0\n"})
    assert deps.declared["django"].specifier == ">=4.2"
    assert deps.declared["django"].source == "requirements.txt:1"


def test_requirements_include_relative_to_including_file(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-r requirements/prod.txt\ndaphne\n",
            "requirements/prod.txt": "--requirement base.txt\ngunicorn\n",
            "requirements/base.txt": "# base\n\ndjango>=4.2\n",
        },
    )
    assert deps.declared["django"].source == "requirements/base.txt:3"
    assert deps.declared["gunicorn"].source == "requirements/prod.txt:2"
    assert deps.declared["daphne"].source == "requirements.txt:2"
    assert deps.files == ["requirements.txt", "requirements/prod.txt", "requirements/base.txt"]
    assert deps.problems == []


def test_requirements_include_equals_and_attached_forms(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "--requirement=a.txt\n-rb.txt\n",
            "a.txt": "alpha\n",
            "b.txt": "beta\n",
        },
    )
    assert sorted(deps.declared) == ["alpha", "beta"]
    assert deps.files == ["requirements.txt", "a.txt", "b.txt"]


def test_requirements_missing_include_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "django\n-r nope/base.txt\n"})
    assert deps.problems == ["requirements.txt:2: included file 'nope/base.txt' not found"]
    assert list(deps.declared) == ["django"]


def test_requirements_include_cycle_is_reported_once_and_terminates(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-r a.txt\ndjango\n",
            "a.txt": "redis\n-r requirements.txt\n",
        },
    )
    assert sorted(deps.declared) == ["django", "redis"]
    assert deps.problems == [
        "a.txt:2: include cycle: requirements.txt -> a.txt -> requirements.txt; not followed"
    ]
    assert deps.files == ["requirements.txt", "a.txt"]


def test_requirements_diamond_include_read_once_without_problem(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-r a.txt\n-r b.txt\n",
            "a.txt": "-r common.txt\nalpha\n",
            "b.txt": "-r common.txt\nbeta\n",
            "common.txt": "django\n",
        },
    )
    assert deps.problems == []
    assert deps.files == ["requirements.txt", "a.txt", "common.txt", "b.txt"]
    assert deps.declared["django"].source == "common.txt:1"


def test_requirements_include_depth_limit(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"requirements.txt": "-r r1.txt\n"}
    for level in range(1, 15):
        files[f"r{level}.txt"] = f"-r r{level + 1}.txt\npkg{level}\n"
    files["r15.txt"] = "deepest\n"
    deps = read(tmp_path, files)
    assert deps.has("pkg1")
    assert not deps.has("deepest")
    assert len(deps.problems) == 1
    assert "includes nested deeper than" in deps.problems[0]


def test_requirements_constraints_do_not_count_as_declared(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": "-c constraints.txt\n--constraint=more.txt\ndjango\n",
            "constraints.txt": "daphne==4.1.2\ndjango<5\n",
            "more.txt": "twisted>=24\n",
        },
    )
    assert list(deps.declared) == ["django"]
    assert deps.declared["django"].specifier == ""
    assert not deps.has("daphne")
    assert deps.constraints["daphne"] == Requirement(
        "daphne", "==4.1.2", source="constraints.txt:1"
    )
    assert sorted(deps.constraints) == ["daphne", "django", "twisted"]
    assert deps.files == ["requirements.txt", "constraints.txt", "more.txt"]


def test_requirements_remote_include_is_not_fetched(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "-r https://example.com/reqs.txt\n"})
    assert deps.problems == [
        "requirements.txt:1: remote file 'https://example.com/reqs.txt' not read"
    ]


def test_only_requirements_txt_is_read_not_other_requirement_files(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {"requirements.txt": "django\n", "requirements-dev.txt": "pytest\n"},
    )
    assert list(deps.declared) == ["django"]
    assert deps.files == ["requirements.txt"]


# ---- markers and extras -------------------------------------------------------------------


def test_channels_daphne_extra_implies_daphne(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels[daphne]>=4\n"})
    assert "daphne" not in deps.declared
    assert deps.has("daphne")
    assert deps.names() == {"channels", "daphne"}


def test_channels_redis_cryptography_extra_implied(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels_redis[cryptography,other]\n"})
    assert deps.names() == {"channels-redis", "cryptography"}


def test_win32_only_requirement_declared_but_not_in_names(tmp_path: Path) -> None:
    content = (
        "pywin32>=306; sys_platform == 'win32'\n"
        "uvloop; platform_system == 'Linux'\n"
        "appnope; sys_platform == 'darwin'\n"
        "armonly; platform_machine == 'aarch64'\n"
        "py2only; python_version < '3'\n"
    )
    deps = read(tmp_path, {"requirements.txt": content})
    assert set(deps.declared) == {"pywin32", "uvloop", "appnope", "armonly", "py2only"}
    assert deps.names() == {"uvloop"}
    assert not deps.has("pywin32")


def test_extras_of_inapplicable_requirement_imply_nothing(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels[daphne]; os_name == 'nt'\n"})
    assert deps.names() == set()


# ---- pyproject.toml -----------------------------------------------------------------------


def test_pyproject_pep621_dependencies_only(tmp_path: Path) -> None:
    content = """
        [project]
        name = "app"
        dependencies = [
          "Django>=4.2",
          "channels[daphne]~=4.0",
          "tomli; python_version < '3.11'",
        ]
        [project.optional-dependencies]
        test = ["pytest"]
        [dependency-groups]
        dev = ["ruff"]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    source = "pyproject.toml [project.dependencies]"
    assert deps.declared == {
        "django": Requirement("django", ">=4.2", source=source),
        "channels": Requirement("channels", "~=4.0", extras=("daphne",), source=source),
        "tomli": Requirement("tomli", marker='python_version < "3.11"', source=source),
    }
    assert deps.manager == "pyproject"
    assert deps.files == ["pyproject.toml"]


def test_pyproject_bad_dependency_string_is_a_problem_with_line(tmp_path: Path) -> None:
    content = """
        [project]
        name = "app"
        dependencies = [
          "django",
          "not a requirement!",
        ]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert list(deps.declared) == ["django"]
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("pyproject.toml:5: cannot parse 'not a requirement!'")


def test_poetry_string_values(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        python = "^3.12"
        Django = "^4.2"
        channels = "*"
        daphne = ">=4.1,<5"
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    source = "pyproject.toml [tool.poetry.dependencies]"
    assert deps.declared == {
        "django": Requirement("django", "^4.2", source=source),
        "channels": Requirement("channels", "", source=source),
        "daphne": Requirement("daphne", ">=4.1,<5", source=source),
    }
    assert deps.version_hint("django") == "^4.2"


def test_poetry_table_values(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        channels = { version = "^4.0", extras = ["Daphne"] }
        pywin32 = { version = "*", markers = "sys_platform == 'win32'" }
        uvloop = { version = "^0.19", platform = "linux" }
        sentry-sdk = { version = "^2", optional = true }
        mylib = { git = "https://github.com/me/mylib.git", tag = "v1.2" }
        local = { path = "../local", develop = true }
        remote = { url = "https://example.com/remote-1.0.tar.gz" }
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    declared = deps.declared
    assert declared["channels"].specifier == "^4.0"
    assert declared["channels"].extras == ("daphne",)
    assert declared["pywin32"].specifier == ""
    assert declared["pywin32"].marker == 'sys_platform == "win32"'
    assert declared["uvloop"].marker == 'sys_platform == "linux"'
    assert "sentry-sdk" not in declared
    assert declared["mylib"].url == "git+https://github.com/me/mylib.git@v1.2"
    assert declared["local"].url == "../local"
    assert declared["remote"].url == "https://example.com/remote-1.0.tar.gz"
    assert deps.names() == {"channels", "daphne", "uvloop", "mylib", "local", "remote"}
    assert deps.problems == []


def test_poetry_list_of_constraints(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        numpy = [
          { version = "<1.25", markers = "python_version < '3.9'" },
          { version = "^2.0", markers = "python_version >= '3.9'" },
        ]
        winonly = [
          { version = "^1", markers = "sys_platform == 'win32'" },
          { version = "^2", markers = "sys_platform == 'cygwin'" },
        ]
        opt = [{ version = "^1", optional = true }]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    numpy = deps.declared["numpy"]
    assert numpy.specifier == "<1.25 || ^2.0"
    assert numpy.marker == '(python_version < "3.9") or (python_version >= "3.9")'
    assert "winonly" in deps.declared
    assert "opt" not in deps.declared
    assert deps.names() == {"numpy"}


def test_poetry_groups_only_main_is_declared(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        django = "^5.0"
        [tool.poetry.group.main.dependencies]
        daphne = "^4.1"
        [tool.poetry.group.dev.dependencies]
        pytest = "^8"
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert sorted(deps.declared) == ["daphne", "django"]
    assert deps.declared["daphne"].source == (
        "pyproject.toml [tool.poetry.group.main.dependencies]"
    )


def test_poetry_invalid_marker_is_a_problem_with_line(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        python = "^3.12"
        django = { version = "^5", markers = "python_version >>> '3'" }
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert deps.declared["django"].marker == "python_version >>> '3'"
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith(
        "pyproject.toml:3: [tool.poetry.dependencies] django: invalid marker"
    )
    assert deps.has("django")


def test_pyproject_invalid_toml_is_a_problem_with_line(tmp_path: Path) -> None:
    deps = read(
        tmp_path, {"pyproject.toml": '[project]\nname = "x"\ndependencies = [\n  "a",\n  b\n]\n'}
    )
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("pyproject.toml:5: invalid TOML: ")
    assert "(at line" not in deps.problems[0]
    assert deps.files == ["pyproject.toml"]


def test_pyproject_wrong_types_are_problems(tmp_path: Path) -> None:
    content = """
        [project]
        dependencies = "django"
        [tool.poetry]
        dependencies = ["django"]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert deps.declared == {}
    assert deps.problems == [
        "pyproject.toml:2: [project.dependencies] is not a list",
        "pyproject.toml: [tool.poetry.dependencies] is not a table",
    ]


# ---- Pipfile ------------------------------------------------------------------------------


def test_pipfile_packages(tmp_path: Path) -> None:
    content = """
        [[source]]
        url = "https://pypi.org/simple"
        name = "pypi"

        [packages]
        Django = "==5.0.6"
        channels = "*"
        channels-redis = {version = ">=4.2", extras = ["cryptography"]}
        pywin32 = {version = "*", sys_platform = "== 'win32'"}
        tomli = {version = "*", markers = "python_version >= '3'"}
        mylib = {git = "https://github.com/me/mylib.git", ref = "main", editable = true}
        local = {path = "./local", editable = true}

        [dev-packages]
        pytest = "*"
    """
    deps = read(tmp_path, {"Pipfile": content})
    source = "Pipfile [packages]"
    assert deps.declared["django"] == Requirement("django", "==5.0.6", source=source)
    assert deps.declared["channels"] == Requirement("channels", "", source=source)
    assert deps.declared["channels-redis"].extras == ("cryptography",)
    assert deps.declared["channels-redis"].specifier == ">=4.2"
    assert deps.declared["pywin32"].marker == 'sys_platform == "win32"'
    assert deps.declared["tomli"].marker == 'python_version >= "3"'
    assert deps.declared["mylib"].url == "git+https://github.com/me/mylib.git@main"
    assert deps.declared["local"].url == "./local"
    assert "pytest" not in deps.declared
    assert deps.names() == {"django", "channels", "channels-redis", "cryptography", "tomli"} | {
        "mylib",
        "local",
    }
    assert deps.manager == "pipenv"
    assert deps.problems == []


def test_pipfile_invalid_toml(tmp_path: Path) -> None:
    deps = read(tmp_path, {"Pipfile": "[packages]\ndjango = \n"})
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("Pipfile:2: invalid TOML: ")


# ---- lock files ---------------------------------------------------------------------------


UV_LOCK = """
    version = 1
    requires-python = ">=3.12"

    [[package]]
    name = "myapp"
    version = "0.1.0"
    source = { virtual = "." }

    [[package]]
    name = "Django"
    version = "5.0.6"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "daphne"
    version = "4.1.2"
    source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock_versions_skip_root_project(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "uv.lock": UV_LOCK,
            "pyproject.toml": '[project]\nname = "myapp"\ndependencies = ["django>=5"]\n',
        },
    )
    assert deps.locked == {"django": "5.0.6", "daphne": "4.1.2"}
    assert deps.manager == "uv"
    assert deps.has("daphne")
    assert deps.files == ["pyproject.toml", "uv.lock"]


def test_uv_lock_editable_root_is_skipped(tmp_path: Path) -> None:
    content = """
        [[package]]
        name = "myapp"
        version = "0.1.0"
        source = { editable = "." }

        [[package]]
        name = "redis"
        version = "5.0.4"
        source = { registry = "https://pypi.org/simple" }
    """
    deps = read(tmp_path, {"uv.lock": content})
    assert deps.locked == {"redis": "5.0.4"}


def test_poetry_lock_versions(tmp_path: Path) -> None:
    content = """
        [[package]]
        name = "channels-redis"
        version = "4.2.0"
        description = "Redis-backed ASGI channel layer implementation"
        optional = false
        python-versions = ">=3.8"

        [[package]]
        name = "Twisted"
        version = "24.3.0"

        [metadata]
        lock-version = "2.0"
    """
    deps = read(
        tmp_path, {"poetry.lock": content, "pyproject.toml": "[tool.poetry.dependencies]\n"}
    )
    assert deps.locked == {"channels-redis": "4.2.0", "twisted": "24.3.0"}
    assert deps.manager == "poetry"


def test_pipfile_lock_default_only_and_strip_equals(tmp_path: Path) -> None:
    lock = {
        "_meta": {"hash": {"sha256": "x"}},
        "default": {
            "django": {"version": "==5.0.6", "hashes": []},
            "Channels_Redis": {"version": "==4.2.0"},
            "mylib": {"git": "https://github.com/me/mylib.git", "ref": "abc"},
        },
        "develop": {"pytest": {"version": "==8.2.0"}},
    }
    deps = read(tmp_path, {"Pipfile.lock": json.dumps(lock, indent=4)})
    assert deps.locked == {"django": "5.0.6", "channels-redis": "4.2.0"}
    assert deps.manager == "pipenv"


def test_pipfile_lock_invalid_json(tmp_path: Path) -> None:
    deps = read(tmp_path, {"Pipfile.lock": '{\n  "default": {\n    "django": \n}\n'})
    assert deps.locked == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("Pipfile.lock:4: invalid JSON: ")


def test_invalid_lock_toml_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"uv.lock": "[[package]]\nname = \n"})
    assert deps.locked == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("uv.lock:2: invalid TOML: ")


def test_version_hint_locked_then_declared_then_empty(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "uv.lock": UV_LOCK,
            "pyproject.toml": '[project]\ndependencies = ["django>=5", "channels>=4"]\n',
        },
    )
    assert deps.version_hint("Django") == "==5.0.6"
    assert deps.version_hint("channels") == ">=4"
    assert deps.version_hint("gunicorn") == ""


# ---- setup.cfg / setup.py -----------------------------------------------------------------


def test_setup_cfg_install_requires(tmp_path: Path) -> None:
    content = """
        [metadata]
        name = app

        [options]
        packages = find:
        install_requires =
            Django>=4.2
            # a comment
            channels[daphne]>=4
            pywin32; sys_platform == "win32"
            not valid !!

        [options.extras_require]
        test = pytest
    """
    deps = read(tmp_path, {"setup.cfg": content})
    source = "setup.cfg [options] install_requires"
    assert deps.declared["django"] == Requirement("django", ">=4.2", source=source)
    assert deps.declared["channels"].extras == ("daphne",)
    assert deps.declared["pywin32"].marker == 'sys_platform == "win32"'
    assert "pytest" not in deps.declared
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.cfg:11: cannot parse 'not valid !!'")
    assert deps.manager == "setup.py"


def test_setup_cfg_unparseable_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"setup.cfg": "install_requires = django\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.cfg:1: cannot parse: ")


def test_setup_py_literal_list(tmp_path: Path) -> None:
    content = """
        import setuptools

        setuptools.setup(
            name="app",
            install_requires=[
                "Django>=4.2",
                "daphne",
            ],
        )
    """
    deps = read(tmp_path, {"setup.py": content})
    source = "setup.py install_requires"
    assert deps.declared == {
        "django": Requirement("django", ">=4.2", source=source),
        "daphne": Requirement("daphne", source=source),
    }
    assert deps.manager == "setup.py"
    assert deps.problems == []


def test_setup_py_module_level_name(tmp_path: Path) -> None:
    content = """
        from setuptools import setup

        REQUIRES = ("channels[daphne]>=4", "redis")

        if __name__ == "__main__":
            setup(name="app", install_requires=REQUIRES)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert sorted(deps.declared) == ["channels", "redis"]
    assert deps.has("daphne")


def test_setup_py_computed_install_requires_is_a_problem(tmp_path: Path) -> None:
    content = """
        from setuptools import setup

        with open("requirements.txt") as f:
            REQUIRES = f.read().splitlines()

        setup(name="app", install_requires=REQUIRES)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert deps.declared == {}
    assert deps.problems == ["setup.py:6: install_requires is computed; cannot read it statically"]


def test_setup_py_computed_entry_is_a_problem_others_kept(tmp_path: Path) -> None:
    content = """
        from setuptools import setup
        VERSION = "4"
        setup(install_requires=["django", "channels>=" + VERSION])
    """
    deps = read(tmp_path, {"setup.py": content})
    assert list(deps.declared) == ["django"]
    assert deps.problems == [
        "setup.py:3: install_requires entry is computed; cannot read it statically"
    ]


def test_setup_py_kwargs_without_install_requires_is_a_problem(tmp_path: Path) -> None:
    content = """
        from setuptools import setup
        kwargs = {"install_requires": ["django"]}
        setup(name="app", **kwargs)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert deps.declared == {}
    assert deps.problems == [
        "setup.py:3: setup() takes **kwargs; install_requires cannot be read statically"
    ]


def test_setup_py_syntax_error_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"setup.py": "from setuptools import setup\nsetup(install_requires=[\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.py:2: syntax error")


def test_setup_py_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    content = f"""
        open({str(marker)!r}, "w").write("oops")
        raise SystemExit(3)
        setup(install_requires=["django"])
    """
    deps = read(tmp_path, {"setup.py": content})
    assert not marker.exists()
    assert list(deps.declared) == ["django"]


# ---- manager and reading order ------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "manager"),
    [
        (["uv.lock", "poetry.lock", "Pipfile", "requirements.txt", "pyproject.toml"], "uv"),
        (["poetry.lock", "Pipfile.lock", "requirements.txt", "pyproject.toml"], "poetry"),
        (["Pipfile.lock", "requirements.txt", "setup.py"], "pipenv"),
        (["Pipfile", "requirements.txt"], "pipenv"),
        (["requirements.txt", "setup.py", "pyproject.toml"], "pip"),
        (["setup.cfg", "pyproject.toml"], "setup.py"),
        (["setup.py"], "setup.py"),
        (["pyproject.toml"], "pyproject"),
        ([], "none"),
    ],
)
def test_manager_precedence(tmp_path: Path, present: list[str], manager: str) -> None:
    for name in present:
        (tmp_path / name).write_text("", encoding="utf-8")
    assert read_dependencies(tmp_path).manager == manager


def test_primary_manager_declaration_wins_and_files_order(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "Pipfile": '[packages]\ndjango = "==5.0"\n',
            "requirements.txt": "django==4.2\nredis\n",
            "Pipfile.lock": '{"default": {"django": {"version": "==5.0"}}}',
        },
    )
    assert deps.manager == "pipenv"
    assert deps.declared["django"].specifier == "==5.0"
    assert deps.declared["redis"].source == "requirements.txt:2"
    assert deps.files == ["Pipfile", "requirements.txt", "Pipfile.lock"]


def test_empty_directory(tmp_path: Path) -> None:
    deps = read_dependencies(tmp_path)
    assert deps == Dependencies({}, {}, [], [], "none")
    assert deps.names() == set()
    assert deps.to_json() == {
        "manager": "none",
        "declared": {},
        "locked": {},
        "files": [],
        "problems": [],
    }


# ---- robustness and output ----------------------------------------------------------------


def test_undecodable_bytes_are_replaced_with_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": b"django\n# caf\xe9\ndaphne  # \xff\n"})
    assert deps.problems == ["requirements.txt:2: not valid UTF-8; undecodable bytes replaced"]
    assert "django" in deps.declared
    assert "daphne" in deps.declared


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "\ufeffdjango\n".encode()})
    assert list(deps.declared) == ["django"]
    assert deps.problems == []


def test_file_over_size_limit_is_skipped(tmp_path: Path) -> None:
    big = "django\n" + "#" * (MAX_FILE_BYTES + 1) + "\n"
    deps = read(tmp_path, {"requirements.txt": big, "Pipfile": '[packages]\ndaphne = "*"\n'})
    assert "django" not in deps.declared
    assert list(deps.declared) == ["daphne"]
    assert deps.files == ["Pipfile"]
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("requirements.txt: ")
    assert "too large" in deps.problems[0]


def test_to_json_is_serialisable_and_masks_passwords(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": (
                "channels[daphne]>=4; python_version >= '3.10'\n"
                "priv @ https://user:s3cret@example.com/priv-1.0.tar.gz\n"
                "bad line here\n"
            ),
            "poetry.lock": '[[package]]\nname = "channels"\nversion = "4.1.0"\n',
        },
    )
    data = deps.to_json()
    text = json.dumps(data)
    assert "s3cret" not in text
    assert data["declared"] == {
        "channels": '[daphne]>=4; python_version >= "3.10"',
        "priv": "@ https://user:***@example.com/priv-1.0.tar.gz",
    }
    assert data["locked"] == {"channels": "4.1.0"}
    assert data["files"] == ["requirements.txt", "poetry.lock"]
    assert data["manager"] == "poetry"
    assert isinstance(data["problems"], list)
    assert len(data["problems"]) == 1


def test_problem_quoting_a_url_masks_its_password(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "https://u:hunter22@example.com/simple/\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert "hunter22" not in deps.problems[0]
    assert "https://u:***@example.com/simple/" in deps.problems[0]
