"""Alembic migrations: `upgrade head` gives exactly the models' schema, on both backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from flowdesk.errors import StoreError
from flowdesk.store import Store, database, models

TABLES = {
    "alembic_version",
    "definitions",
    "documents",
    "external_tasks",
    "history",
    "instances",
    "jobs",
    "subscriptions",
    "task_candidates",
    "user_tasks",
}


def _schema_differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, models.Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _head() -> str | None:
    return ScriptDirectory(str(database.MIGRATIONS_DIR)).get_current_head()


def test_upgrade_head__on_empty_database_gives_the_models_schema(empty_db_url):
    Store(empty_db_url).dispose()

    assert _tables(empty_db_url) == TABLES
    assert _schema_differences(empty_db_url) == []


def test_upgrade_head__by_alembic_command_gives_the_models_schema(empty_db_url):
    command.upgrade(database.alembic_config(url=empty_db_url), "head")

    assert _schema_differences(empty_db_url) == []


def test_downgrade_base__drops_every_table_and_upgrade_restores_them(empty_db_url):
    config = database.alembic_config(url=empty_db_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")

    assert _tables(empty_db_url) == {"alembic_version"}
    Store(empty_db_url).dispose()
    assert _schema_differences(empty_db_url) == []


def test_revisions__form_one_line_starting_at_0001():
    scripts = ScriptDirectory(str(database.MIGRATIONS_DIR))
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].revision == "0001"
    assert revisions[-1].down_revision is None


def test_store__on_migrated_database_does_not_migrate(db_url, monkeypatch):
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", fail)
    Store(db_url).dispose()


def test_store__concurrent_first_starts_migrate_once(empty_db_url):
    barrier = threading.Barrier(3, timeout=10)

    def start(_: int) -> str:
        barrier.wait()
        store = Store(empty_db_url)
        store.dispose()
        return store.dialect

    with ThreadPoolExecutor(3) as pool:
        dialects = list(pool.map(start, range(3)))

    assert len(dialects) == 3
    assert _schema_differences(empty_db_url) == []


def test_store__database_newer_than_flowdesk_raises_store_error(db_url):
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()

    with pytest.raises(StoreError, match="9999"):
        Store(db_url)


def test_head_revision__is_what_a_new_store_records(db_url):
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == _head()
    finally:
        engine.dispose()
