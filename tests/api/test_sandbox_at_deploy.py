"""Deploy refuses, with file, line and element, what the sandbox would refuse every time it
runs: imports, `_` (dunder) names and builtins it does not have, wherever Python or JUEL runs
(script tasks, listener scripts, conditions, input parameters)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import flowdesk

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def script_task(script: str) -> str:
    return f"""    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Work" />
    <bpmn:scriptTask id="Work" scriptFormat="python">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="E" />
    <bpmn:endEvent id="E" />
"""


def listener(script: str, script_format: str = "python") -> str:
    return f"""    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Work" />
    <bpmn:task id="Work">
      <bpmn:extensionElements>
        <camunda:executionListener event="start">
          <camunda:script scriptFormat="{script_format}">{script}</camunda:script>
        </camunda:executionListener>
      </bpmn:extensionElements>
    </bpmn:task>
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="E" />
    <bpmn:endEvent id="E" />
"""


def condition(text: str) -> str:
    return f"""    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="G" />
    <bpmn:exclusiveGateway id="G" default="f3" />
    <bpmn:sequenceFlow id="f2" sourceRef="G" targetRef="Work">
      <bpmn:conditionExpression>{text}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="G" targetRef="Work" />
    <bpmn:task id="Work" />
    <bpmn:sequenceFlow id="f4" sourceRef="Work" targetRef="E" />
    <bpmn:endEvent id="E" />
"""


def parameter(script: str) -> str:
    return f"""    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Work" />
    <bpmn:task id="Work">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="a">
            <camunda:script scriptFormat="python">{script}</camunda:script>
          </camunda:inputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:task>
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="E" />
    <bpmn:endEvent id="E" />
"""


@pytest.mark.parametrize(
    ("body", "element", "reason"),
    [
        pytest.param(script_task("import os"), "Work", "imports are not allowed", id="task-import"),
        pytest.param(script_task("x = open('/etc/passwd')"), "Work", "'open'", id="task-open"),
        pytest.param(script_task("x = (1).__class__"), "Work", "__class__", id="task-dunder"),
        pytest.param(
            listener("import os"), "Work", "imports are not allowed", id="listener-import"
        ),
        pytest.param(listener("x = __builtins__"), "Work", "__builtins__", id="listener-dunder"),
        pytest.param(
            listener("${currentUser()}", "juel"), "Work", "currentUser", id="listener-juel-function"
        ),
        pytest.param(condition("x.__class__ is None"), "f2", "__class__", id="condition-dunder"),
        pytest.param(condition("open('f') is None"), "f2", "'open'", id="condition-open"),
        pytest.param(parameter("open('/etc/passwd')"), "Work", "'open'", id="parameter-open"),
    ],
)
def test_deploy_refuses_what_the_sandbox_always_refuses_with_file_line_and_element(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    body: str,
    element: str,
    reason: str,
) -> None:
    path = tmp_path / "refused.bpmn"
    path.write_text(HEAD + body + TAIL, encoding="utf-8")
    engine = make_engine()

    with pytest.raises(flowdesk.BpmnValidationError) as refused:
        engine.deploy(path)

    (problem,) = refused.value.problems
    assert problem.file == str(path)
    assert problem.element_id == element
    assert problem.line is not None and problem.line > 3
    assert reason in problem.message
    assert engine.definitions() == []
