"""Workers racing for external tasks: each task is locked by one worker only.

Each worker has an Engine of its own on the same database, as separate worker processes
would. On PostgreSQL concurrent fetches select with `FOR UPDATE SKIP LOCKED`; on SQLite the
writers are serialised. Either way no task is locked twice and every task is done once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import DATA
from sqlalchemy import create_engine, text

import flowdesk

WORKERS = 4
INSTANCES = 24


def test_concurrent_workers__never_lock_the_same_task_and_complete_each_once(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    setup = make_engine()
    setup.deploy(DATA / "external_tasks.bpmn")
    instances = [setup.start("ext_plain", {"n": n}) for n in range(INSTANCES)]
    engines = [make_engine() for _ in range(WORKERS)]
    locked_by: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    guard = threading.Lock()
    ready = threading.Barrier(WORKERS)

    def work(index: int) -> None:
        engine, worker = engines[index], f"w{index}"
        try:
            ready.wait()
            while True:
                tasks = engine.fetch_and_lock(
                    worker, ["work"], 3, lock_duration=timedelta(minutes=5)
                )
                if not tasks:
                    return
                with guard:
                    for task in tasks:
                        locked_by.setdefault(task.id, []).append(worker)
                for task in tasks:
                    engine.complete_external_task(task.id, worker, {"done_by": worker})
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(locked_by) == INSTANCES
    assert all(len(workers) == 1 for workers in locked_by.values())
    for instance in instances:
        after = setup.instance(instance.id)
        assert after.state == "completed"
        assert after.variables["done_by"] in {f"w{i}" for i in range(WORKERS)}
    assert setup.external_tasks() == []


@pytest.mark.postgresql
def test_fetch__skips_a_task_whose_row_another_transaction_holds_instead_of_waiting(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "external_tasks.bpmn")
    engine.start("ext_plain")
    engine.start("ext_plain")
    held, free = sorted(engine.external_tasks(), key=lambda t: t.created_at)
    other = create_engine(db_url)
    try:
        with other.connect() as connection, connection.begin():
            # Another worker's fetch (or completion) holding the row right now.
            connection.execute(
                text("SELECT id FROM external_tasks WHERE id = :id FOR UPDATE"), {"id": held.id}
            )
            fetched = engine.fetch_and_lock("w1", ["work"], 2, lock_duration=timedelta(minutes=1))
            assert [t.id for t in fetched] == [free.id]
    finally:
        other.dispose()
    (later,) = engine.fetch_and_lock("w2", ["work"], 2, lock_duration=timedelta(minutes=1))
    assert later.id == held.id
