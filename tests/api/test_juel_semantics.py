"""JUEL in running models has Camunda 7's meaning: EL coercion, `_` names, beans, `execution`,
Spin, `juel` script tasks; and deploy refuses expressions and scripts that can never run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import open_tasks

import flowdesk

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs"
    targetNamespace="http://example.com">
  <bpmn:process id="{key}" isExecutable="true">
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def write(tmp_path: Path, key: str, body: str) -> Path:
    path = tmp_path / f"{key}.bpmn"
    path.write_text(HEAD.format(key=key) + body + TAIL)
    return path


def gateway_model(tmp_path: Path, key: str, yes: str, no: str) -> Path:
    """start -> XOR; `yes` leads to Task_yes, `no` to Task_no (both user tasks)."""
    return write(
        tmp_path,
        key,
        f"""    <bpmn:startEvent id="Start" />
    <bpmn:exclusiveGateway id="Gw" />
    <bpmn:userTask id="Task_yes" />
    <bpmn:userTask id="Task_no" />
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Gw" />
    <bpmn:sequenceFlow id="F_yes" sourceRef="Gw" targetRef="Task_yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{yes}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_no" sourceRef="Gw" targetRef="Task_no">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{no}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
""",
    )


@pytest.mark.parametrize(
    ("yes", "no", "variables", "expected"),
    [
        # A Boolean variable compared with a String coerces to Boolean (EL 1.8.2).
        ("${approved == 'true'}", "${approved == 'false'}", {"approved": True}, "Task_yes"),
        ("${approved == 'true'}", "${approved == 'false'}", {"approved": False}, "Task_no"),
        # A String compared with a number coerces to Long.
        ("${amount == 1}", "${amount != 1}", {"amount": "1"}, "Task_yes"),
        # Names starting with `_` are data.
        ("#{_items.size()&gt;0}", "#{_items.size()==0}", {"_items": ["a"]}, "Task_yes"),
        # A missing map key is null.
        ("${order.rush == null}", "${order.rush != null}", {"order": {}}, "Task_yes"),
        # Camunda Spin over a JSON variable.
        (
            "${S(customer).prop('age').numberValue() &gt;= 18}",
            "${S(customer).prop('age').numberValue() &lt; 18}",
            {"customer": {"age": 17}},
            "Task_no",
        ),
        # Java's remainder keeps the dividend's sign.
        ("${n % 3 == -1}", "${n % 3 != -1}", {"n": -7}, "Task_yes"),
    ],
)
def test_condition__has_el_meaning(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    yes: str,
    no: str,
    variables: dict[str, Any],
    expected: str,
) -> None:
    make_engine().deploy(gateway_model(tmp_path, "route", yes, no))
    instance = make_engine().start("route", variables)
    assert open_tasks(make_engine(), instance.id) == [expected]


class ApprovalService:
    """A bean: conditions call it with `execution`."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None]] = []

    def needsApproval(self, execution: Any) -> bool:
        self.seen.append((execution.getCurrentActivityId(), execution.processInstanceId))
        return bool(execution.getVariable("amount") > 100)


def test_condition__calls_a_registered_bean_with_execution(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    service = ApprovalService()
    path = gateway_model(
        tmp_path,
        "approve",
        "${approvalService.needsApproval(execution)}",
        "${!approvalService.needsApproval(execution)}",
    )
    engine = make_engine()
    engine.handlers.register_bean("approvalService", service)
    engine.deploy(path)

    instance = engine.start("approve", {"amount": 500})

    assert instance.incident is None
    assert open_tasks(engine, instance.id) == ["Task_yes"]
    assert ("Gw", instance.id) in service.seen


class Mailer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, execution: Any, order: Any) -> str:
        self.sent.append(order)
        execution.setVariable("mailedBy", execution.getCurrentActivityId())
        return f"mail-{order['id']}"


def test_service_expression__bean_method_and_execution_set_variable(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "mail",
        """    <bpmn:startEvent id="Start" />
    <bpmn:serviceTask id="Send" camunda:expression="${mailer.send(execution, order)}"
        camunda:resultVariable="receipt" />
    <bpmn:serviceTask id="Flag" camunda:expression="${execution.setVariable('flag', _count + 1)}" />
    <bpmn:userTask id="Wait" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Send" />
    <bpmn:sequenceFlow id="F2" sourceRef="Send" targetRef="Flag" />
    <bpmn:sequenceFlow id="F3" sourceRef="Flag" targetRef="Wait" />
""",
    )
    mailer = Mailer()
    engine = make_engine()
    engine.handlers.register_bean("mailer", mailer)
    engine.deploy(path)

    instance = engine.start("mail", {"order": {"id": 7}, "_count": 1})

    variables = make_engine().instance(instance.id).variables
    assert variables["receipt"] == "mail-7"
    assert variables["mailedBy"] == "Send"
    assert variables["flag"] == 2
    assert mailer.sent == [{"id": 7}]


def test_juel_script_task__value_goes_to_result_variable(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    # Camunda's loop of `i = 0; i++ until i >= 3` written as juel script tasks.
    path = write(
        tmp_path,
        "count",
        """    <bpmn:startEvent id="Start" />
    <bpmn:scriptTask id="Init" scriptFormat="juel" camunda:resultVariable="i">
      <bpmn:script>${0}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Loop" />
    <bpmn:scriptTask id="Inc" scriptFormat="juel" camunda:resultVariable="i">
      <bpmn:script>${i + 1}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="Who" scriptFormat="juel" camunda:resultVariable="who">
      <bpmn:script>#{execution.id}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="Label" scriptFormat="juel" camunda:resultVariable="label">
      <bpmn:script>count=${i}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="NoResult" scriptFormat="juel">
      <bpmn:script>${i}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="Done" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Init" />
    <bpmn:sequenceFlow id="F2" sourceRef="Init" targetRef="Loop" />
    <bpmn:sequenceFlow id="F3" sourceRef="Loop" targetRef="Inc">
      <bpmn:conditionExpression>${i &lt; 3}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F4" sourceRef="Inc" targetRef="Loop" />
    <bpmn:sequenceFlow id="F5" sourceRef="Loop" targetRef="Who">
      <bpmn:conditionExpression>${i &gt;= 3}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F6" sourceRef="Who" targetRef="Label" />
    <bpmn:sequenceFlow id="F7" sourceRef="Label" targetRef="NoResult" />
    <bpmn:sequenceFlow id="F8" sourceRef="NoResult" targetRef="Done" />
""",
    )
    make_engine().deploy(path)
    instance = make_engine().start("count")

    variables = make_engine().instance(instance.id).variables
    assert variables == {"i": 3, "who": instance.id, "label": "count=3"}
    assert open_tasks(make_engine(), instance.id) == ["Done"]


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        (
            '<bpmn:scriptTask id="Bad" scriptFormat="python"><bpmn:script>import os'
            "</bpmn:script></bpmn:scriptTask>",
            "script task 'Bad': the script can never run: not allowed: Line 1: imports are "
            "not allowed",
        ),
        (
            '<bpmn:scriptTask id="Bad"><bpmn:script>x = ().__class__</bpmn:script>'
            "</bpmn:scriptTask>",
            "__class__",
        ),
        (
            '<bpmn:scriptTask id="Bad" scriptFormat="python"><bpmn:script>\n'
            "x = 1\ndata = open('/etc/passwd').read()</bpmn:script></bpmn:scriptTask>",
            "script task 'Bad': the script can never run: line 3: 'open' is not available "
            "in the sandbox",
        ),
        (
            '<bpmn:scriptTask id="Bad" scriptFormat="juel" camunda:resultVariable="x">'
            "<bpmn:script>${nosuch(1)}</bpmn:script></bpmn:scriptTask>",
            "calls the function nosuch(), which does not exist",
        ),
        (
            '<bpmn:userTask id="Bad" camunda:assignee="${lookup(owner)}" />',
            "camunda:assignee of 'Bad' can never run: calls the function lookup()",
        ),
        (
            '<bpmn:userTask id="Bad" camunda:assignee="${currentUser()}" />',
            "calls Camunda's currentUser(), which flowdesk does not support",
        ),
        (
            '<bpmn:serviceTask id="Bad" camunda:expression="${mailer(to)}" />',
            "camunda:expression of 'Bad' can never run: calls the function mailer()",
        ),
        (
            '<bpmn:serviceTask id="Bad" camunda:expression="${mailer.send(to}" />',
            "camunda:expression of 'Bad' cannot be translated: expected ')'",
        ),
    ],
)
def test_deploy__refuses_what_can_never_run_with_line_and_element(
    engine: flowdesk.Engine, tmp_path: Path, element: str, reason: str
) -> None:
    path = write(
        tmp_path,
        "bad",
        f"""    <bpmn:startEvent id="Start" />
    {element}
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Bad" />
    <bpmn:sequenceFlow id="F2" sourceRef="Bad" targetRef="End" />
""",
    )
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(path)

    (problem,) = caught.value.problems
    assert problem.element_id == "Bad"
    assert problem.line == 8
    assert problem.file is not None and problem.file.endswith("bad.bpmn")
    assert reason in problem.message
    assert engine.definitions() == []


def test_deploy__refuses_a_condition_calling_a_function_that_does_not_exist(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    path = gateway_model(tmp_path, "route", "${isVip(customer)}", "${!isVip(customer)}")
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(path)
    assert {p.element_id for p in caught.value.problems} == {"F_yes", "F_no"}
    assert "isVip()" in caught.value.problems[0].message


def test_deploy__accepts_spin_json_and_runs_it(engine: flowdesk.Engine, tmp_path: Path) -> None:
    path = gateway_model(
        tmp_path,
        "spin",
        "${JSON(payload).prop('ok').boolValue()}",
        "${!JSON(payload).prop('ok').boolValue()}",
    )
    engine.deploy(path)
    instance = engine.start("spin", {"payload": '{"ok": true}'})
    assert open_tasks(engine, instance.id) == ["Task_yes"]


def test_condition__el_error_is_an_incident_naming_the_cause(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(gateway_model(tmp_path, "route", "${amount &gt; 1}", "${amount &lt;= 1}"))
    instance = engine.start("route", {"amount": "lots"})
    assert instance.state == "incident"
    assert instance.incident is not None
    assert "cannot coerce 'lots' (String) to Long" in instance.incident


def test_register_bean__refuses_names_an_expression_cannot_write() -> None:
    registry = flowdesk.HandlerRegistry()
    for name in ("_private", "not-a-name", "class", ""):
        with pytest.raises(ValueError, match="bean name"):
            registry.register_bean(name, object())
    registry.register_bean("mailer", first := Mailer())
    registry.register_bean("mailer", second := Mailer())
    assert registry.beans == {"mailer": second}
    assert first is not second


class UserService:
    def findEditor(self, region: str) -> str:
        return f"editor-{region}"

    def discount(self, amount: int) -> float:
        return amount * 0.1


def test_beans__reachable_from_assignee_and_parameters_after_a_restart(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "edit",
        """    <bpmn:startEvent id="Start" />
    <bpmn:userTask id="Edit" camunda:assignee="${userService.findEditor(region)}">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:outputParameter name="discount"
            >${userService.discount(amount)}</camunda:outputParameter>
          <camunda:outputParameter name="where"
            >${execution.currentActivityId}</camunda:outputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="Next" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Edit" />
    <bpmn:sequenceFlow id="F2" sourceRef="Edit" targetRef="Next" />
""",
    )

    def engine_with_beans() -> flowdesk.Engine:
        engine = make_engine()
        engine.handlers.register_bean("userService", UserService())
        return engine

    engine_with_beans().deploy(path)
    instance = engine_with_beans().start("edit", {"region": "north", "amount": 200})
    (task,) = engine_with_beans().tasks(instance_id=instance.id)
    assert task.assignee == "editor-north"

    engine_with_beans().complete(task.id, {}, user="editor-north")

    variables = engine_with_beans().instance(instance.id).variables
    assert variables["discount"] == 20.0
    assert variables["where"] == "Edit"


class Checker:
    def check(self, amount: int) -> None:
        if amount > 10:
            raise flowdesk.BpmnError("TOO_MUCH", "over the limit")


def test_service_expression__bean_bpmn_error_reaches_the_boundary_event(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    text = write(
        tmp_path,
        "check",
        """    <bpmn:startEvent id="Start" />
    <bpmn:serviceTask id="Check" camunda:expression="${checker.check(amount)}" />
    <bpmn:boundaryEvent id="Caught" attachedToRef="Check">
      <bpmn:errorEventDefinition errorRef="Err" />
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Ok" />
    <bpmn:userTask id="Handle" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Check" />
    <bpmn:sequenceFlow id="F2" sourceRef="Check" targetRef="Ok" />
    <bpmn:sequenceFlow id="F3" sourceRef="Caught" targetRef="Handle" />
""",
    ).read_text()
    (tmp_path / "check.bpmn").write_text(
        text.replace(
            '  <bpmn:process id="check"',
            '  <bpmn:error id="Err" errorCode="TOO_MUCH" />\n  <bpmn:process id="check"',
        )
    )
    engine.handlers.register_bean("checker", Checker())
    engine.deploy(tmp_path / "check.bpmn")

    assert open_tasks(engine, engine.start("check", {"amount": 50}).id) == ["Handle"]
    assert open_tasks(engine, engine.start("check", {"amount": 5}).id) == ["Ok"]


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        # Camunda's UelExpressionCondition: the value must be a Boolean, and not null.
        ({"flag": "true"}, "condition expression returns non-Boolean"),
        ({"flag": 1}, "condition expression returns non-Boolean"),
        ({"flag": None}, "condition expression returns null"),
    ],
)
def test_condition__a_juel_value_that_is_not_a_boolean_is_an_incident(
    engine: flowdesk.Engine, tmp_path: Path, variables: dict[str, Any], reason: str
) -> None:
    engine.deploy(gateway_model(tmp_path, "route", "${flag}", "${!flag}"))
    instance = engine.start("route", variables)
    assert instance.state == "incident"
    assert instance.incident is not None
    assert reason in instance.incident
    assert engine.tasks(instance_id=instance.id) == []


def test_condition__a_juel_boolean_variable_chooses_the_flow(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(gateway_model(tmp_path, "route", "${flag}", "${!flag}"))
    assert open_tasks(engine, engine.start("route", {"flag": True}).id) == ["Task_yes"]
    assert open_tasks(engine, engine.start("route", {"flag": False}).id) == ["Task_no"]


def conditional_model(tmp_path: Path, condition: str) -> Path:
    """start -> a conditional catch event on `condition` -> user task Done."""
    return write(
        tmp_path,
        "when",
        f"""    <bpmn:startEvent id="Start" />
    <bpmn:intermediateCatchEvent id="Wait">
      <bpmn:conditionalEventDefinition>
        <bpmn:condition xsi:type="bpmn:tFormalExpression">{condition}</bpmn:condition>
      </bpmn:conditionalEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Done" />
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Done" />
    <bpmn:sequenceFlow id="F3" sourceRef="Done" targetRef="End" />
""",
    )


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"ready": "yes"}, "condition expression returns non-Boolean"),
        ({"ready": None}, "condition expression returns null"),
    ],
)
def test_conditional_event__a_juel_value_that_is_not_a_boolean_is_an_incident(
    engine: flowdesk.Engine, tmp_path: Path, variables: dict[str, Any], reason: str
) -> None:
    # Camunda evaluates a conditional event's condition with the same UelExpressionCondition
    # as a sequence flow's; a truthy text does not make it fire.
    engine.deploy(conditional_model(tmp_path, "${ready}"))
    instance = engine.start("when", variables)
    assert instance.state == "incident"
    assert instance.incident is not None and reason in instance.incident
    assert engine.tasks(instance_id=instance.id) == []


def test_conditional_event__a_juel_boolean_fires_it(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(conditional_model(tmp_path, "${ready}"))
    assert open_tasks(engine, engine.start("when", {"ready": True}).id) == ["Done"]
    assert open_tasks(engine, engine.start("when", {"ready": False}).id) == []


def completion_model(tmp_path: Path, condition: str) -> Path:
    """start -> a parallel multi-instance user task Vote (3 instances) -> user task After."""
    return write(
        tmp_path,
        "vote",
        f"""    <bpmn:startEvent id="Start" />
    <bpmn:userTask id="Vote">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>3</bpmn:loopCardinality>
        <bpmn:completionCondition>{condition}</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:userTask id="After" />
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Vote" />
    <bpmn:sequenceFlow id="F2" sourceRef="Vote" targetRef="After" />
    <bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="End" />
""",
    )


def test_completion_condition__a_juel_value_that_is_not_a_boolean_is_an_incident(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # MultiInstanceActivityBehavior.completionConditionSatisfied refuses a non-Boolean.
    engine.deploy(completion_model(tmp_path, "${nrOfCompletedInstances}"))
    instance = engine.start("vote")
    first = engine.tasks(instance_id=instance.id)[0]

    engine.complete(first.id, {})

    after = engine.instance(instance.id)
    assert after.state == "incident"
    assert after.incident is not None
    assert (
        "'completionCondition'" in after.incident
        and "needs to evaluate to a boolean" in after.incident
    )


def test_completion_condition__a_juel_boolean_ends_the_instances_early(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(completion_model(tmp_path, "${nrOfCompletedInstances >= 2}"))
    instance = engine.start("vote")
    for _ in range(2):
        engine.complete(engine.tasks(instance_id=instance.id)[0].id, {})

    assert open_tasks(engine, instance.id) == ["After"]


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def next(self) -> int:
        self.calls += 1
        return self.calls


def test_input_parameter__of_a_user_task_is_evaluated_once_when_it_is_entered(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    # Camunda evaluates an activity's input parameters once, when it is entered: a bean they
    # call runs once, however often the instance moves on elsewhere while the task waits, and
    # the local variable keeps that value up to the task's completion.
    path = write(
        tmp_path,
        "inputs_once",
        """    <bpmn:startEvent id="Start" />
    <bpmn:parallelGateway id="Split" />
    <bpmn:userTask id="Waiting">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="ticket">${counter.next()}</camunda:inputParameter>
          <camunda:outputParameter name="got">${ticket}</camunda:outputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="Other" />
    <bpmn:userTask id="OtherAgain" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Split" />
    <bpmn:sequenceFlow id="F2" sourceRef="Split" targetRef="Waiting" />
    <bpmn:sequenceFlow id="F3" sourceRef="Split" targetRef="Other" />
    <bpmn:sequenceFlow id="F4" sourceRef="Other" targetRef="OtherAgain" />
""",
    )
    counter = Counter()
    engine = make_engine()
    engine.handlers.register_bean("counter", counter)
    engine.deploy(path)
    instance = engine.start("inputs_once")
    for element_id in ("Other", "OtherAgain"):
        (task,) = [t for t in engine.tasks(instance_id=instance.id) if t.element_id == element_id]
        engine.complete(task.id, {})
    assert counter.calls == 1

    (waiting,) = engine.tasks(instance_id=instance.id)
    done = engine.complete(waiting.id, {})

    assert counter.calls == 1
    assert done.state == "completed"
    assert done.variables["got"] == 1
