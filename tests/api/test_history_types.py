"""The history's event types: one `HistoryEventType` member for each type flowdesk records,
and each one documented in docs/concepts.md's history table."""

from __future__ import annotations

import re
from pathlib import Path

import flowdesk
from flowdesk import HistoryEventType

CONCEPTS = Path(__file__).parents[2] / "docs" / "concepts.md"


def _documented_types() -> set[str]:
    text = CONCEPTS.read_text(encoding="utf-8")
    section = text[text.index("## History") : text.index("## Process analysis")]
    found: set[str] = set()
    for line in section.splitlines():
        first_cell = line.split("|")[1] if line.startswith("| `") else ""
        if first_cell and first_cell.strip() != "`type`":  # the header row
            found.update(re.findall(r"`([a-z_]+)`", first_cell))
    return found


def test_every_history_event_type__has_a_row_in_the_concepts_table() -> None:
    assert _documented_types() == {member.value for member in HistoryEventType}


def test_history_event_types__compare_equal_to_the_recorded_text(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    model = tmp_path / "one_task.bpmn"
    model.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="d" targetNamespace="t">
  <bpmn:process id="one_task" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task_do"/>
    <bpmn:userTask id="Task_do"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Task_do" targetRef="End"/>
    <bpmn:endEvent id="End"/>
  </bpmn:process>
</bpmn:definitions>
""",
        encoding="utf-8",
    )
    engine.deploy(model)
    instance = engine.start("one_task", user="alice")
    (task,) = engine.tasks(instance_id=instance.id)
    engine.claim(task.id, user="bob")
    engine.unclaim(task.id, user="bob")
    engine.set_variables(instance.id, {"note": "x"}, user="carol")
    engine.complete(task.id, {}, user="dave")

    types = [event.type for event in engine.history(instance.id)]
    assert types == [
        HistoryEventType.INSTANCE_STARTED,
        HistoryEventType.ACTIVITY_COMPLETED,
        HistoryEventType.TASK_CREATED,
        HistoryEventType.TASK_CLAIMED,
        HistoryEventType.TASK_UNCLAIMED,
        HistoryEventType.VARIABLES_SET,
        HistoryEventType.TASK_COMPLETED,
        HistoryEventType.ACTIVITY_COMPLETED,
        HistoryEventType.INSTANCE_COMPLETED,
    ]
    assert all(isinstance(t, str) and HistoryEventType(t) == t for t in types)
