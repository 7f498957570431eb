"""Unit tests for ``buildpack.core.envdir``: config vars from ENV_DIR, one file each."""

from __future__ import annotations

from pathlib import Path

from buildpack.core.envdir import MAX_VALUE_BYTES, read_env_dir


def test_read_env_dir(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "REDIS_URL").write_text("rediss://:pw@h:6379\n", encoding="utf-8")
    (env_dir / "DJANGO_SETTINGS_MODULE").write_text("proj.settings", encoding="utf-8")
    (env_dir / "EMPTY").write_text("", encoding="utf-8")
    (env_dir / "BAD-NAME").write_text("x", encoding="utf-8")
    (env_dir / "1STARTS_WITH_DIGIT").write_text("x", encoding="utf-8")
    (env_dir / "HUGE").write_text("x" * (MAX_VALUE_BYTES + 1), encoding="utf-8")
    (env_dir / "SUBDIR").mkdir()
    values = read_env_dir(env_dir)
    assert values == {
        "DJANGO_SETTINGS_MODULE": "proj.settings",
        "EMPTY": "",
        "REDIS_URL": "rediss://:pw@h:6379\n",  # kept exactly
    }
    assert list(values) == sorted(values)


def test_read_env_dir_missing(tmp_path: Path) -> None:
    assert read_env_dir(None) == {}
    assert read_env_dir(tmp_path / "missing") == {}
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert read_env_dir(tmp_path / "file") == {}
