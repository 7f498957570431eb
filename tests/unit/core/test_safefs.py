"""buildpack.core.safefs: the one way the build reads and writes files in a repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from buildpack.core import safefs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "build"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("outside\n")
    return root


def _outside(repo: Path) -> Path:
    return repo.parent / "outside"


# -- reading ----------------------------------------------------------------------------------


def test_read_regular_file_and_symlink_to_one(repo: Path) -> None:
    (repo / "a.txt").write_bytes(b"\xef\xbb\xbfhello \xff\n")
    (repo / "b.txt").symlink_to("a.txt")
    assert safefs.read_bytes(repo / "a.txt", 100) == b"\xef\xbb\xbfhello \xff\n"
    assert safefs.read_text(repo / "b.txt", 100) == "hello \ufffd\n"


def test_read_fifo_is_refused_without_blocking(repo: Path) -> None:
    os.mkfifo(repo / "requirements.txt")
    # In a child with a deadline: a blocking open() would hang this test forever otherwise.
    code = (
        "import sys; from buildpack.core import safefs\n"
        "try:\n    safefs.read_bytes(sys.argv[1], 10)\n"
        "except safefs.UnsafeFile as exc:\n    print(exc.reason)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(repo / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert child.stdout.strip() == "is a FIFO (named pipe), not a regular file"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),
    ],
)
def test_read_special_files_are_refused(
    repo: Path, make: Callable[[Path], object], kind: str
) -> None:
    make(repo / "x")
    with pytest.raises(safefs.UnsafeFile) as caught:
        safefs.read_bytes(repo / "x", 10)
    assert caught.value.reason == f"is {kind}, not a regular file"
    assert isinstance(caught.value, OSError)  # callers' `except OSError` cover it


def test_read_is_bounded(repo: Path) -> None:
    (repo / "big").write_bytes(b"x" * 101)
    with pytest.raises(safefs.FileTooLarge) as caught:
        safefs.read_bytes(repo / "big", 100)
    assert (caught.value.size, caught.value.limit) == (101, 100)
    # procfs reports size 0 for files with content: the read itself stops at the limit.
    with pytest.raises(safefs.FileTooLarge):
        safefs.read_bytes("/proc/self/maps", 10)


def test_read_missing_and_dangling(repo: Path) -> None:
    (repo / "dangling").symlink_to(_outside(repo) / "missing")
    for name in ("missing", "dangling"):
        with pytest.raises(FileNotFoundError):
            safefs.read_bytes(repo / name, 10)


# -- writing -----------------------------------------------------------------------------------


def test_write_creates_parents_mode_and_content(repo: Path) -> None:
    target = safefs.write_text(repo, ".channels-buildpack/build.json", "{}\n")
    path = repo / ".channels-buildpack" / "build.json"
    assert Path(target) == path.resolve()
    assert path.read_text() == "{}\n"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["build.json"]  # no temporary left


def test_dangling_symlink_out_is_not_written_through(repo: Path) -> None:
    (repo / "Procfile").symlink_to(_outside(repo) / "Procfile")
    with pytest.raises(safefs.UnsafeFile) as caught:
        safefs.write_text(repo, "Procfile", "web: x\n")
    assert caught.value.path == "Procfile"
    assert caught.value.reason == "is a symlink leading outside the build directory"
    assert not (_outside(repo) / "Procfile").exists()
    assert os.readlink(repo / "Procfile") == str(_outside(repo) / "Procfile")


@pytest.mark.parametrize(
    ("relative", "link", "target"),
    [
        (".profile.d/channels-buildpack.sh", ".profile.d", "outside"),
        (".channels-buildpack/build.json", ".channels-buildpack", "outside/sub/.."),
        ("Procfile", "Procfile", "outside/secret.txt"),
    ],
)
def test_symlinks_out_anywhere_on_the_path_are_refused(
    repo: Path, relative: str, link: str, target: str
) -> None:
    (repo / link).symlink_to(repo.parent / target)
    (_outside(repo) / "sub").mkdir()
    with pytest.raises(safefs.UnsafeFile) as caught:
        safefs.write_text(repo, relative, "x")
    assert caught.value.path == link
    assert sorted(p.name for p in _outside(repo).iterdir()) == ["secret.txt", "sub"]
    assert (_outside(repo) / "secret.txt").read_text() == "outside\n"


def test_symlinks_inside_are_followed(repo: Path) -> None:
    (repo / "deploy").mkdir()
    (repo / ".profile.d").symlink_to("deploy")
    (repo / "Procfile").symlink_to("deploy/Procfile.new")  # dangling, but inside
    safefs.write_text(repo, ".profile.d/x.sh", "a")
    safefs.write_text(repo, "Procfile", "web: x\n")
    assert (repo / "deploy" / "x.sh").read_text() == "a"
    assert (repo / "deploy" / "Procfile.new").read_text() == "web: x\n"
    assert (repo / "Procfile").is_symlink()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a directory, not a regular file"),
        (os.mkfifo, "is a FIFO (named pipe), not a regular file"),
    ],
)
def test_non_regular_files_are_not_replaced(
    repo: Path, make: Callable[[Path], object], reason: str
) -> None:
    make(repo / "Procfile")
    with pytest.raises(safefs.UnsafeFile) as caught:
        safefs.write_text(repo, "Procfile", "web: x\n")
    assert caught.value.reason == reason


def test_a_file_where_a_directory_is_needed(repo: Path) -> None:
    (repo / ".profile.d").write_text("not a directory")
    with pytest.raises(safefs.UnsafeFile) as caught:
        safefs.write_text(repo, ".profile.d/x.sh", "a")
    assert caught.value.reason == "is a regular file where a directory is needed"


def test_hard_link_to_a_file_outside_is_replaced_not_written_through(repo: Path) -> None:
    os.link(_outside(repo) / "secret.txt", repo / "channels_buildpack_asgi.py")
    safefs.write_text(repo, "channels_buildpack_asgi.py", "generated\n")
    assert (repo / "channels_buildpack_asgi.py").read_text() == "generated\n"
    assert (_outside(repo) / "secret.txt").read_text() == "outside\n"


@pytest.mark.parametrize("relative", ["../outside/x", "/etc/x", "", ".", "a/../../x"])
def test_paths_that_leave_the_root_are_refused(repo: Path, relative: str) -> None:
    with pytest.raises(safefs.UnsafeFile):
        safefs.write_text(repo, relative, "x")


def test_detect_script_loads_safefs_without_the_package(tmp_path: Path) -> None:
    """bin/detect runs detect.py as a script with -I -S: safefs is loaded from its file."""
    script = Path(safefs.__file__).with_name("detect.py")
    (tmp_path / "manage.py").write_text("")
    os.mkfifo(tmp_path / "requirements.txt")
    child = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (child.returncode, child.stdout) == (0, "Django\n")
