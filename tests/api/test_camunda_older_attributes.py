"""Camunda 7's older attribute spellings run as Camunda 7 runs them.

`camunda:async="true"` is asyncBefore (`BpmnParse.isAsyncBefore` reads either, exactly
"true"), and `camunda:resultVariableName` is `resultVariable` when that is absent
(`BpmnParse.parseResultVariable`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import flowdesk

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  <bpmn:process id="archive" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:serviceTask id="Archive" {attributes} camunda:expression="${{archiver.store(doc)}}" />
    <bpmn:userTask id="Check" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Archive" />
    <bpmn:sequenceFlow id="F2" sourceRef="Archive" targetRef="Check" />
  </bpmn:process>
</bpmn:definitions>
"""


class Archiver:
    """A bean whose `store` records what it stored and returns a receipt."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    def store(self, doc: str) -> str:
        self.stored.append(doc)
        return f"receipt-{doc}"


def _engine(make_engine: Callable[..., flowdesk.Engine], archiver: Archiver) -> flowdesk.Engine:
    engine = make_engine()
    engine.handlers.register_service("archiver", archiver)
    return engine


@pytest.mark.parametrize("restart", [False, True], ids=["same-engine", "new-engine"])
def test_async_true__is_async_before_the_call_returns_and_a_job_runs_the_task(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path, restart: bool
) -> None:
    archiver = Archiver()
    (tmp_path / "a.bpmn").write_text(MODEL.format(attributes='camunda:async="true"'))
    engine = _engine(make_engine, archiver)
    engine.deploy(tmp_path / "a.bpmn")

    instance = engine.start("archive", {"doc": "D-1"})

    assert archiver.stored == []
    (job,) = engine.jobs(instance_id=instance.id)
    assert (job.type, job.element_id) == ("async", "Archive")
    if restart:
        engine = _engine(make_engine, archiver)
    assert engine.run_due_jobs() == 1
    assert archiver.stored == ["D-1"]
    assert [t.element_id for t in engine.tasks(instance_id=instance.id)] == ["Check"]


@pytest.mark.parametrize("value", ["false", "True"])
def test_async_other_than_exactly_true__runs_the_task_in_the_call(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path, value: str
) -> None:
    archiver = Archiver()
    (tmp_path / "a.bpmn").write_text(MODEL.format(attributes=f'camunda:async="{value}"'))
    engine = _engine(make_engine, archiver)
    engine.deploy(tmp_path / "a.bpmn")

    instance = engine.start("archive", {"doc": "D-2"})

    assert archiver.stored == ["D-2"]
    assert engine.jobs(instance_id=instance.id) == []


def test_result_variable_name__stores_the_expression_value_like_result_variable(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    archiver = Archiver()
    (tmp_path / "a.bpmn").write_text(
        MODEL.format(attributes='camunda:resultVariableName="receipt"')
    )
    engine = _engine(make_engine, archiver)
    engine.deploy(tmp_path / "a.bpmn")

    instance = engine.start("archive", {"doc": "D-3"})

    assert engine.instance(instance.id).variables == {"doc": "D-3", "receipt": "receipt-D-3"}
