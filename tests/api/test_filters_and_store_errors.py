"""Smaller refusals: the `state` filter of `tasks`/`instances`, store errors that name the
database they come from, and an engine that outlives its PostgreSQL connections."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, only_task, submit
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

import flowdesk

ONE_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="d" targetNamespace="t">
  <bpmn:process id="one" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="T" />
    <bpmn:userTask id="T" name="Do it" />
    <bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E" />
    <bpmn:endEvent id="E" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_tasks_state_all_lists_every_state_and_an_unknown_state_is_refused(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    submit(engine, instance.id, 5000)  # completes the submit task; the approval is open
    open_task = only_task(engine, instance.id)

    every = engine.tasks(instance_id=instance.id, state="all")

    assert sorted(t.state for t in every) == ["completed", "open"]
    assert every == engine.tasks(instance_id=instance.id, state=None)
    assert [t.id for t in engine.tasks(instance_id=instance.id)] == [open_task.id]
    with pytest.raises(flowdesk.InvalidArgument) as refused:
        engine.tasks(state="done")
    assert "'done'" in str(refused.value)
    for state in ("open", "completed", "cancelled", "all"):
        assert repr(state) in str(refused.value)
    assert isinstance(refused.value, ValueError)  # as callers caught before


def test_instances_state_all_lists_every_state_and_an_unknown_state_is_refused(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")

    assert [i.id for i in engine.instances(state="all")] == [instance.id]
    assert engine.instances(state="completed") == []
    with pytest.raises(flowdesk.InvalidArgument) as refused:
        engine.instances(state="active")
    assert "'running'" in str(refused.value) and "'incident'" in str(refused.value)


def test_a_sqlite_error_names_the_database_file(tmp_path: Path) -> None:
    missing_folder = tmp_path / "no-such-folder" / "flowdesk.db"

    with pytest.raises(flowdesk.StoreError) as caught:
        flowdesk.Engine(f"sqlite:///{missing_folder}", load_entry_points=False)

    assert caught.value.database == str(missing_folder.resolve())
    assert str(missing_folder.resolve()) in str(caught.value)


def test_a_locked_sqlite_database_names_its_file(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    engine = make_engine()
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    path = make_url(db_url).database
    assert path is not None
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(flowdesk.StoreError) as caught:
            engine.start("expense_approval", user="alice")
    finally:
        holder.rollback()
        holder.close()

    assert "locked" in str(caught.value)
    assert caught.value.database == os.path.realpath(path)


@pytest.mark.postgresql
def test_a_postgresql_error_names_the_url_without_its_password(db_url: str) -> None:
    url = make_url(db_url).set(password="s3cret-pw", database="flowdesk_no_such_database")

    with pytest.raises(flowdesk.StoreError) as caught:
        flowdesk.Engine(url.render_as_string(hide_password=False), load_entry_points=False)

    assert "flowdesk_no_such_database" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
    assert caught.value.database is not None and "***" in caught.value.database


@pytest.mark.postgresql
def test_an_engine_goes_on_without_an_error_after_its_postgresql_connections_were_cut(
    db_url: str, pg_admin: Engine, tmp_path: Path
) -> None:
    """What a restart of PostgreSQL does to an idle application: every pooled connection, the
    readers' and the writers', is closed by the server; the next calls get new ones."""
    path = tmp_path / "one.bpmn"
    path.write_text(ONE_TASK, encoding="utf-8")
    engine = flowdesk.Engine(db_url, load_entry_points=False)
    try:
        engine.deploy(path)
        first = engine.start("one")
        assert [task.name for task in engine.tasks(instance_id=first.id)] == ["Do it"]

        database = {"name": make_url(db_url).database}
        with pg_admin.connect() as connection:  # on the maintenance database, not the test's
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name"
                ),
                database,
            ).scalar_one()
            # pg_terminate_backend only signals; wait until the backends have closed their
            # connections, as they have by the time a restarted server takes calls again.
            for _ in range(500):
                left = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), database
                ).scalar_one()
                if left == 0:
                    break
                time.sleep(0.01)
        assert cut >= 2  # one connection of each pool was idle in it
        assert left == 0

        tasks = engine.tasks(instance_id=first.id)  # a read
        engine.complete(tasks[0].id)  # a write
        assert engine.instance(first.id).state == "completed"
    finally:
        engine.close()
