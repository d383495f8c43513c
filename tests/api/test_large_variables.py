"""A large variable is stored once in an instance's row, and states of every earlier shape load.

SpiffWorkflow stores each task's data as its changes against its parent's, but the root of the
tree (pruning moves it up to the oldest live task) held a full copy of every variable beside
the workflow's own data, and the variables column (for queries) held a third: a 1 MB variable
made a 3 MB row, written at every step. The root's data is now stored against the workflow's
data (serializer flowdesk-2), and a long text is not written into the state at all: loading
takes it from the variables column (flowdesk-3). States written before still load (including
flowdesk-3's, whose user tasks do not say which have a row: flowdesk-4).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy
from conftest import DATA, only_task

import flowdesk
from flowdesk.store import Store

BLOB = "x" * 200_000
# Everything but the blob (task ids, states, the other variables) takes a few kilobytes.
ROOM = 20_000


def stored_row(db_url: str, instance_id: str) -> tuple[str, Any]:
    """The instance's stored workflow state and variables column (no public API shows them)."""
    store = Store(db_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            row = uow.instances.get(instance_id)
    finally:
        store.dispose()
    assert row.workflow_state is not None
    return row.workflow_state, row.variables


def stored_state(db_url: str, instance_id: str) -> str:
    return stored_row(db_url, instance_id)[0]


def write_state(db_url: str, instance_id: str, state: dict[str, Any], version: str) -> None:
    """Replace the instance's stored workflow state, as a state of `version`."""
    state["serializer_version"] = version
    written = sqlalchemy.create_engine(db_url)
    with written.begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "UPDATE instances SET workflow_state = :state, serializer_version = :version"
                " WHERE id = :id"
            ),
            {"state": json.dumps(state), "version": version, "id": instance_id},
        )
    written.dispose()


def as_flowdesk_3(state: dict[str, Any], _variables: dict[str, Any]) -> dict[str, Any]:
    """The state as serializer flowdesk-3 wrote it: no mark on the user tasks that have a row
    (the store's rows are read at the next step instead)."""
    for workflow in (state, *state["subprocesses"].values()):
        for task in workflow["tasks"].values():
            task["internal_data"].pop("flowdesk_row", None)
    return state


def as_flowdesk_2(state: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """The state as serializer flowdesk-2 wrote it: long texts in the workflow's data too."""
    state = as_flowdesk_3(state, variables)
    data = state["data"]
    for key, value in data.items():
        if value == {"typename": "flowdesk_variable"}:
            data[key] = variables[key]
    return state


def test_a_large_variable_is_in_the_stored_row_once_at_every_step(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "long_loop.bpmn")
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 3, "blob": BLOB})
    rows = [stored_row(db_url, instance.id)]
    for r in range(1, 4):
        engine.complete(only_task(engine, instance.id).id, {"round": r})
        rows.append(stored_row(db_url, instance.id))

    for state, variables in rows[:-1]:
        assert len(state) < ROOM  # the blob is in the variables column only
        assert variables["blob"] == BLOB
        assert len(json.dumps(variables)) < len(BLOB) + ROOM
    assert engine.instance(instance.id).state == "completed"
    assert engine.instance(instance.id).variables["blob"] == BLOB


def test_a_long_text_a_step_changed_comes_back_after_a_restart(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first = make_engine()
    first.deploy(DATA / "long_loop.bpmn")
    instance = first.start(
        "long_loop", variables={"round": 0, "rounds": 3, "blob": BLOB, "kept": "k" * 5000}
    )
    first.complete(only_task(first, instance.id).id, {"round": 1, "blob": "y" * 300_000})
    first.close()

    # The next completion loads the workflow from its state and the variables column.
    again = make_engine()
    again.complete(only_task(again, instance.id).id, {"round": 2, "short": "s"})
    assert again.instance(instance.id).variables == {
        "round": 2,
        "rounds": 3,
        "blob": "y" * 300_000,
        "kept": "k" * 5000,
        "short": "s",
    }
    again.close()
    last = make_engine()
    last.complete(only_task(last, instance.id).id, {"round": 3, "blob": "z"})
    finished = last.instance(instance.id)
    assert finished.state == "completed"
    assert finished.variables["blob"] == "z"
    assert finished.variables["kept"] == "k" * 5000


def test_a_flowdesk_3_state_with_two_open_tasks_keeps_the_other_tasks_row_at_the_next_step(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    """flowdesk-3 states do not mark which user tasks have a row: the next step reads the
    rows, so the task left open keeps its one row and the join still waits for it."""
    engine = make_engine()
    engine.deploy(DATA / "parallel_review.bpmn")
    instance = engine.start("parallel_review")
    engine.close()
    state, variables = stored_row(db_url, instance.id)
    write_state(db_url, instance.id, as_flowdesk_3(json.loads(state), variables), "flowdesk-3")

    again = make_engine()
    finance, legal = sorted(again.tasks(instance_id=instance.id), key=lambda t: t.element_id)
    again.complete(legal.id, {"legal_ok": True})
    assert [t.id for t in again.tasks(instance_id=instance.id)] == [finance.id]
    again.complete(finance.id, {"finance_ok": True})
    assert [t.element_id for t in again.tasks(instance_id=instance.id)] == ["Task_sign"]


def test_a_state_whose_text_the_variables_column_lost_fails_with_store_error_and_keeps_the_row(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    """Only an edit of the row by hand can part the two; the step then changes nothing."""
    engine = make_engine()
    engine.deploy(DATA / "long_loop.bpmn")
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 2, "blob": BLOB})
    engine.close()
    written = sqlalchemy.create_engine(db_url)
    with written.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE instances SET variables = :v WHERE id = :id"),
            {"v": json.dumps({"round": 0, "rounds": 2}), "id": instance.id},
        )
    written.dispose()
    before = stored_row(db_url, instance.id)

    again = make_engine()
    task = only_task(again, instance.id)
    with pytest.raises(flowdesk.StoreError, match="'blob'"):
        again.complete(task.id, {"round": 1})
    assert stored_row(db_url, instance.id) == before
    assert only_task(again, instance.id).id == task.id


def test_variables_of_every_type_come_back_from_the_state_after_a_restart(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    variables: dict[str, Any] = {
        "round": 0,
        "rounds": 2,
        "day": date(2026, 12, 7),
        "at": datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        "bytes": b"\x00\x01",
        "nested": {"typename": "not a type", "items": [1, {"a": None}]},
        "like_a_text_kept_apart": {"typename": "flowdesk_variable"},
        "long_text": "t" * 2000,
        "listed": [1.5, "two", None, True],
    }
    first = make_engine()
    first.deploy(DATA / "long_loop.bpmn")
    instance = first.start("long_loop", variables=variables)
    first.close()

    # The completion loads the workflow from its state, and writes the variables it holds.
    again = make_engine()
    again.complete(only_task(again, instance.id).id, {"round": 1})
    assert again.instance(instance.id).variables == {**variables, "round": 1}


def as_flowdesk_1(state: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """The state as serializer flowdesk-1 wrote it: the root task's data in full, too."""
    state = as_flowdesk_2(state, variables)
    root = state["tasks"][state["root"]]
    delta = root["delta"]
    assert delta.pop("base") == "workflow"
    full = {key: value for key, value in state["data"].items() if key not in delta["deletions"]}
    root["data"], root["delta"] = {**full, **delta["updates"]}, {}
    return state


@pytest.mark.parametrize(
    ("version", "reshape"),
    [("flowdesk-3", as_flowdesk_3), ("flowdesk-2", as_flowdesk_2), ("flowdesk-1", as_flowdesk_1)],
)
def test_a_state_an_earlier_serializer_wrote_still_loads(
    make_engine: Callable[..., flowdesk.Engine],
    db_url: str,
    version: str,
    reshape: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "long_loop.bpmn")
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 2, "blob": BLOB})
    engine.close()
    state, variables = stored_row(db_url, instance.id)
    write_state(db_url, instance.id, reshape(json.loads(state), variables), version)

    again = make_engine()
    again.complete(only_task(again, instance.id).id, {"round": 1})
    assert len(stored_state(db_url, instance.id)) < ROOM  # saved in the new shape
    again.complete(only_task(again, instance.id).id, {"round": 2})
    finished = again.instance(instance.id)
    assert finished.state == "completed"
    assert finished.variables == {"round": 2, "rounds": 2, "blob": BLOB}


def test_a_script_that_changes_a_variables_type_but_not_its_text_changes_the_variable(
    engine: flowdesk.Engine,
) -> None:
    """Text variables are compared as text, other values as JSON: "1" and 1 stay apart."""
    engine.deploy(DATA / "script_retypes.bpmn")
    instance = engine.start(
        "retypes",
        variables={
            "text_to_number": "1",
            "number_to_text": 1,
            "text_to_same_text": "same",
            "text_to_longer": BLOB,
        },
    )
    assert engine.instance(instance.id).variables == {
        "text_to_number": 1,
        "number_to_text": "1",
        "text_to_same_text": "same",
        "text_to_longer": BLOB + "!",
    }
