"""Unit tests for ``buildpack.core.deps.requirements_txt``: requirements files, their
includes, options, URLs and VCS lines.
"""

from __future__ import annotations

from pathlib import Path

from buildpack.core.deps import (
    Requirement,
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
