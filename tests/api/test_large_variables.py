"""A large variable is stored once in an instance's workflow state, and states load either way.

SpiffWorkflow stores each task's data as its changes against its parent's, but the root of the
tree (pruning moves it up to the oldest live task) held a full copy of every variable beside
the workflow's own data: a 1 MB variable made a 2 MB state, written at every step. The root's
data is now stored against the workflow's data. States written before (the root's data in
full) still load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy
from conftest import DATA, only_task

import flowdesk
from flowdesk.store import Store

BLOB = "x" * 200_000
# Everything but the blob (task ids, states, the other variables) takes a few kilobytes.
ROOM = 20_000


def stored_state(db_url: str, instance_id: str) -> str:
    """The instance's stored workflow state (no public API shows it)."""
    store = Store(db_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            state = uow.instances.get(instance_id).workflow_state
    finally:
        store.dispose()
    assert state is not None
    return state


def test_a_large_variable_is_in_the_stored_state_once_at_every_step(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "long_loop.bpmn")
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 3, "blob": BLOB})
    sizes = [len(stored_state(db_url, instance.id))]
    for r in range(1, 4):
        engine.complete(only_task(engine, instance.id).id, {"round": r})
        sizes.append(len(stored_state(db_url, instance.id)))

    assert all(len(BLOB) < size < len(BLOB) + ROOM for size in sizes[:-1]), sizes
    assert engine.instance(instance.id).state == "completed"
    assert engine.instance(instance.id).variables["blob"] == BLOB


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


def test_a_state_with_the_root_data_stored_in_full_still_loads(
    make_engine: Callable[..., flowdesk.Engine], db_url: str
) -> None:
    """The shape flowdesk wrote before (serializer flowdesk-1): the root task's data in full."""
    engine = make_engine()
    engine.deploy(DATA / "long_loop.bpmn")
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 2, "blob": BLOB})
    engine.close()
    state = json.loads(stored_state(db_url, instance.id))
    root = state["tasks"][state["root"]]
    delta = root["delta"]
    assert delta.pop("base") == "workflow"
    full = {key: value for key, value in state["data"].items() if key not in delta["deletions"]}
    root["data"], root["delta"] = {**full, **delta["updates"]}, {}
    written = sqlalchemy.create_engine(db_url)
    with written.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE instances SET workflow_state = :state WHERE id = :id"),
            {"state": json.dumps(state), "id": instance.id},
        )
    written.dispose()

    again = make_engine()
    again.complete(only_task(again, instance.id).id, {"round": 1})
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
