"""How the CLIs read `make run`'s .data/stack.env: gaps only, secrets through their files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from servicekit.data import stackenv


def _stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    (tmp_path / "kek").write_text("a-key\n")
    stackenv.write(
        data / stackenv.FILE_NAME,
        {
            "AUTH_DATABASE_URL": "postgresql://postgres@127.0.0.1:5999/auth",
            "ORDERS_REDIS_URL": "redis://127.0.0.1:6999/0",
            "AUTH_KEY_ENCRYPTION_KEY_FILE": str(tmp_path / "kek"),
        },
        header="test",
    )
    monkeypatch.setenv("STACK_DATA_DIR", str(data))
    return data / stackenv.FILE_NAME


def test_written_for_the_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _stack(tmp_path, monkeypatch)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_fills_unset_variables_and_reads_file_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stack(tmp_path, monkeypatch)
    env = {"ORDERS_REDIS_URL": "redis://mine:6379/0"}
    assert stackenv.load("AUTH_DATABASE_URL", environ=env) == path
    assert env == {
        "AUTH_DATABASE_URL": "postgresql://postgres@127.0.0.1:5999/auth",
        "ORDERS_REDIS_URL": "redis://mine:6379/0",  # what the user set wins
        "AUTH_KEY_ENCRYPTION_KEY": "a-key",
    }


def test_a_given_url_means_the_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack(tmp_path, monkeypatch)
    env = {"AUTH_DATABASE_URL": "postgresql://elsewhere/auth"}
    assert stackenv.load("AUTH_DATABASE_URL", environ=env) is None
    assert env == {"AUTH_DATABASE_URL": "postgresql://elsewhere/auth"}


def test_found_in_a_parent_of_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STACK_DATA_DIR", raising=False)
    nested = tmp_path / "repo" / "services" / "auth"
    nested.mkdir(parents=True)
    assert tmp_path / "repo" / ".data" / stackenv.FILE_NAME in stackenv.candidates(nested)
