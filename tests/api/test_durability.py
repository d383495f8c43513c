"""`Engine(sqlite_synchronous=...)`: how durable a SQLite file's commits are, on real files.

The setting is SQLite's `PRAGMA synchronous`, which lives on each connection, not in the file,
so the tests read it back from the engine's own connections (`Engine.sqlite_synchronous`),
including connections opened after the pool was emptied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import flowdesk
from flowdesk.store import SQLITE_SYNCHRONOUS_LEVELS, Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _file_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'durability.db'}"


def test_a_sqlite_file_syncs_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    with flowdesk.Engine(_file_url(tmp_path), load_entry_points=False) as engine:
        assert engine.sqlite_synchronous == "FULL"


@pytest.mark.parametrize("given", ["NORMAL", "normal", "FULL", "Full"])
def test_the_chosen_level_is_in_effect_on_every_new_connection(tmp_path: Path, given: str) -> None:
    with flowdesk.Engine(
        _file_url(tmp_path), load_entry_points=False, sqlite_synchronous=given
    ) as engine:
        assert engine.sqlite_synchronous == given.upper()
        engine.close()  # empties the pool: the next call opens a new connection
        assert engine.sqlite_synchronous == given.upper()


def test_the_file_stays_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    with flowdesk.Engine(_file_url(tmp_path), load_entry_points=False, sqlite_synchronous="NORMAL"):
        connection = sqlite3.connect(tmp_path / "durability.db")
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            connection.close()


def test_steps_committed_with_normal_sync_are_read_by_a_new_engine(tmp_path: Path) -> None:
    url = _file_url(tmp_path)
    with flowdesk.Engine(url, load_entry_points=False, sqlite_synchronous="NORMAL") as engine:
        engine.deploy(EXAMPLES / "expense_approval.bpmn")
        started = engine.start("expense_approval", business_key="EXP-1", user="alice")
        (task,) = engine.tasks(instance_id=started.id)
    with flowdesk.Engine(url, load_entry_points=False) as reopened:
        assert reopened.sqlite_synchronous == "FULL"
        assert reopened.instance(started.id).business_key == "EXP-1"
        assert [t.id for t in reopened.tasks(instance_id=started.id)] == [task.id]


@pytest.mark.parametrize("level", ["OFF", "EXTRA", "", "NORMAL ", 1, None])
def test_an_unknown_level_is_refused_before_the_database_is_touched(
    tmp_path: Path, level: object
) -> None:
    with pytest.raises(flowdesk.StoreError, match="sqlite_synchronous must be one of FULL, NORMAL"):
        flowdesk.Engine(
            _file_url(tmp_path),
            load_entry_points=False,
            sqlite_synchronous=level,  # type: ignore[arg-type]
        )
    assert not (tmp_path / "durability.db").exists()


def test_the_store_refuses_an_unknown_level_as_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not 'OFF'"):
        Store(_file_url(tmp_path), sqlite_synchronous="OFF")
    assert SQLITE_SYNCHRONOUS_LEVELS == ("FULL", "NORMAL")


def test_the_setting_means_nothing_without_a_sqlite_file(db_url: str) -> None:
    url = "sqlite://" if db_url.startswith("sqlite") else db_url
    with flowdesk.Engine(url, load_entry_points=False, sqlite_synchronous="NORMAL") as engine:
        assert engine.sqlite_synchronous is None
        engine.deploy(EXAMPLES / "expense_approval.bpmn")
        started = engine.start("expense_approval", business_key="EXP-2", user="alice")
        assert engine.instance(started.id).state == "running"
