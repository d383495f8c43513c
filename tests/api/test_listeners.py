"""Camunda execution and task listeners, and field injection, run as Camunda 7 runs them.

The module is in `RESTART_MODULES` (see conftest): each scenario runs once with one Engine and
once with a new Engine for every call, as listener state (which ran, what they set) lives in the
stored instance, not in the Engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, only_task

import flowdesk

EngineFactory = Callable[..., flowdesk.Engine]


class Recorder:
    """Listener and service handlers that write what they saw into `calls`."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def record(self, call: flowdesk.ListenerCall) -> None:
        tag = call.fields.get("tag")
        self.calls.append(f"{call.event}:{call.element_id}" + (f":{tag}" if tag else ""))

    def set_route(self, call: flowdesk.ListenerCall) -> Mapping[str, Any]:
        self.calls.append(f"{call.event}:{call.element_id}")
        return {"route": "big" if call.get_variable("amount") > 100 else "small"}

    def prepare(self, call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        self.calls.append(f"service:{call.element_id}:{dict(call.fields)}")
        return {"prepared": call.variables["doubled"]}

    def register(self, registry: flowdesk.HandlerRegistry) -> None:
        registry.register_listener("Recorder", self.record)
        registry.register_listener("recorder", self.record)
        registry.register_listener("SetRoute", self.set_route)
        registry.register_service("Prepare", self.prepare)


def engine_with(
    make_engine: EngineFactory, setup: Callable[[flowdesk.HandlerRegistry], None]
) -> flowdesk.Engine:
    """An engine whose handler registry `setup` filled (each new engine of a restarted run too)."""
    registry = flowdesk.HandlerRegistry()
    setup(registry)
    return make_engine(handlers=registry)


def test_listeners__run_in_camunda_order_around_behaviour_and_mappings(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    engine = engine_with(make_engine, recorder.register)
    engine.deploy(DATA / "listeners_order.bpmn")

    instance = engine.start("listen_order", {"amount": 500, "reviewer": "bob"})

    assert recorder.calls == [
        "start:listen_order",
        "start:Start",
        "end:Start",
        "take:F1",
        "start:Task_prepare:prepare-start",
        # Fields reach the delegate, their expressions evaluated when it is called.
        "service:Task_prepare:{'greeting': 'hello', 'limit': 501}",
        # End listeners still see the input parameter (output mappings come after them).
        "end:Task_prepare:seen 1000",
        "start:Gateway",
        "take:F_big",
        "start:Task_review",
        "create:Task_review",
        "assignment:Task_review",
    ]
    review = only_task(engine, instance.id)
    assert review.assignee == "bob"
    recorder.calls.clear()

    engine.complete(review.id, {"verdict": "ok"}, user="bob")

    assert recorder.calls == [
        "complete:Task_review",
        "end:Task_review",
        "end:End_big",
        "end:listen_order",
    ]
    done = engine.instance(instance.id)
    assert done.state == "completed"
    assert done.variables["route"] == "big"
    assert done.variables["prepared_from"] == 1000
    assert "doubled" not in done.variables  # the input parameter stayed local


def test_listeners__variable_set_by_a_gateway_start_listener_decides_the_path(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    engine = make_engine()
    recorder.register(engine.handlers)
    engine.deploy(DATA / "listeners_order.bpmn")

    instance = engine.start("listen_order", {"amount": 50, "reviewer": "bob"})

    assert instance.state == "completed"
    assert instance.variables["route"] == "small"
    assert "take:F_small" in recorder.calls and "take:F_big" not in recorder.calls
    assert recorder.calls[-1] == "end:listen_order"


def test_task_listeners__four_eyes_complete_listener_refuses_the_first_checker(
    make_engine: EngineFactory,
) -> None:
    def not_the_first_checker(call: flowdesk.ListenerCall) -> None:
        assert call.task is not None
        if call.task.assignee == call.get_variable("firstChecker"):
            raise ValueError("the second checker must not be the first")

    def setup(registry: flowdesk.HandlerRegistry) -> None:
        registry.register_listener("NotTheFirstChecker", not_the_first_checker)

    engine = engine_with(make_engine, setup)
    engine.deploy(DATA / "listeners_four_eyes.bpmn")
    instance = engine.start("double_check")
    first = only_task(engine, instance.id)
    engine.claim(first.id, user="carol")
    engine.complete(first.id, {}, user="carol")
    # The first check's complete listener (a python script) kept who checked.
    assert engine.instance(instance.id).variables == {"firstChecker": "carol"}
    second = only_task(engine, instance.id)
    engine.claim(second.id, user="carol")
    history_before = engine.history(instance.id)

    with pytest.raises(flowdesk.HandlerError, match="must not be the first"):
        engine.complete(second.id, {"approved": True}, user="carol")

    # Refused: nothing changed.
    assert engine.task(second.id).state == "open"
    assert engine.instance(instance.id).variables == {"firstChecker": "carol"}
    assert engine.history(instance.id) == history_before

    engine.reassign("carol", "erin")
    engine.complete(second.id, {"approved": True}, user="erin")
    done = engine.instance(instance.id)
    assert (done.state, done.variables["approved"]) == ("completed", True)


def test_listeners__take_on_parallel_flows_scripts_expressions_and_subprocess_start_end(
    make_engine: EngineFactory,
) -> None:
    engine = engine_with(make_engine, lambda registry: None)
    engine.deploy(DATA / "listeners_gateways.bpmn")

    instance = engine.start("listen_split", {"log": [], "owner": "dave"})

    log = engine.instance(instance.id).variables["log"]
    # Both flows out of the parallel split were taken, each before its target ran.
    assert log.index("take F_a") < log.index("run Task_a")
    assert log.index("take F_b") < log.index("run Task_b")
    # The join ends once; the sub-process starts before anything inside it.
    assert log[4:] == ["end Join", "start Sub", "start Sub_start", "start Sub_task"]
    inside = only_task(engine, instance.id)
    # A create listener's expression assigned the task.
    assert inside.assignee == "dave"

    engine.complete(inside.id, {}, user="dave")

    done = engine.instance(instance.id)
    assert done.state == "completed"
    assert done.variables["log"][-1] == "end Sub"
    # An expression listener calls Camunda's execution.
    assert done.variables["took"] == "take"


def write(tmp_path: Path, name: str, body: str, *, process_extensions: str = "") -> Path:
    path = tmp_path / f"{name}.bpmn"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_{name}"
    targetNamespace="http://example.com/listeners">
  <bpmn:process id="{name}" isExecutable="true">
    {process_extensions}
    {body}
  </bpmn:process>
</bpmn:definitions>
"""
    )
    return path


_MISSING = """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_work" />
    <bpmn:serviceTask id="Task_work" camunda:class="com.acme.Work">
      <bpmn:extensionElements>
        <camunda:executionListener class="com.acme.Audit" event="start" />
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_work" targetRef="Task_review" />
    <bpmn:userTask id="Task_review">
      <bpmn:extensionElements>
        <camunda:taskListener delegateExpression="${assigner}" event="create" />
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Task_review" targetRef="End" />
    <bpmn:endEvent id="End" />
"""


def test_listeners__missing_handler_warns_at_deploy_is_an_incident_and_retries_on_a_new_engine(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(tmp_path, "missing_listeners", _MISSING)
    engine = make_engine()
    engine.handlers.register_service("Work", lambda call: {"worked": True})
    with pytest.warns(flowdesk.MissingListenerWarning) as warned:
        engine.deploy(path)
    found = sorted(
        (w.message.element_id, w.message.event, w.message.implementation)  # type: ignore[union-attr]
        for w in warned
        if isinstance(w.message, flowdesk.MissingListenerWarning)
    )
    assert found == [
        ("Task_review", "create", "${assigner}"),
        ("Task_work", "start", "com.acme.Audit"),
    ]

    broken = engine.start("missing_listeners")

    assert broken.state == "incident"
    assert "com.acme.Audit" in (broken.incident or "")
    assert "worked" not in broken.variables  # never skipped: the task did not run either

    audited: list[str] = []
    fixed_engine = make_engine()
    fixed_engine.handlers.register_service("Work", lambda call: {"worked": True})
    fixed_engine.handlers.register_listener("Audit", lambda call: audited.append(call.event))
    after_retry = fixed_engine.retry(broken.id)

    assert audited == ["start"]
    assert after_retry.variables == {"worked": True}
    # Now the user task's create listener has no handler: an incident, no task row.
    assert after_retry.state == "incident"
    assert "${assigner}" in (after_retry.incident or "")
    assert fixed_engine.tasks(instance_id=broken.id) == []

    last_engine = make_engine()
    last_engine.handlers.register_service("Work", lambda call: {"worked": True})
    last_engine.handlers.register_listener("Audit", lambda call: audited.append(call.event))
    last_engine.handlers.register_listener(
        "assigner", lambda call: call.task.set_assignee("bob") if call.task else None
    )
    running = last_engine.retry(broken.id)

    assert running.state == "running"
    assert audited == ["start"]  # the start listener that succeeded did not run again
    assert only_task(last_engine, broken.id).assignee == "bob"


def test_listeners__registered_handlers_give_no_warning(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(tmp_path, "missing_listeners", _MISSING)
    engine = make_engine()
    engine.handlers.register_service("Work", lambda call: None)
    engine.handlers.register_listener("com.acme.Audit", lambda call: None)
    engine.handlers.register_listener("assigner", lambda call: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.deploy(path)


def test_listeners__failing_end_listener_is_an_incident_and_retry_finishes_the_step(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "end_fails",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_calc" />
    <bpmn:scriptTask id="Task_calc" scriptFormat="python">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:outputParameter name="result">${total * 2}</camunda:outputParameter>
        </camunda:inputOutput>
        <camunda:executionListener class="com.acme.Check" event="end" />
      </bpmn:extensionElements>
      <bpmn:script>total = 21</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_calc" targetRef="Task_next">
      <bpmn:extensionElements>
        <camunda:executionListener class="com.acme.Check" />
      </bpmn:extensionElements>
    </bpmn:sequenceFlow>
    <bpmn:userTask id="Task_next" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_next" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    seen: list[str] = []

    def failing(call: flowdesk.ListenerCall) -> None:
        raise RuntimeError("audit store is down")

    def working(call: flowdesk.ListenerCall) -> None:
        seen.append(f"{call.event}:{call.element_id}:{call.get_variable('total')}")

    engine = make_engine()
    engine.handlers.register_listener("Check", failing)
    engine.deploy(path)
    broken = engine.start("end_fails")
    assert broken.state == "incident"
    assert "audit store is down" in (broken.incident or "")
    assert engine.tasks(instance_id=broken.id) == []

    fixed = make_engine()
    fixed.handlers.register_listener("Check", working)
    running = fixed.retry(broken.id)

    assert running.state == "running"
    assert seen == ["end:Task_calc:21", "take:F2:21"]  # the script did not run again
    assert running.variables == {"total": 21, "result": 42}
    assert only_task(fixed, broken.id).element_id == "Task_next"


def test_task_listeners__complete_listener_sets_variables_the_task_completes_with(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "complete_sets",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_enter" />
    <bpmn:userTask id="Task_enter" camunda:candidateGroups="sales">
      <bpmn:extensionElements>
        <camunda:taskListener class="com.acme.Stamp" event="complete">
          <camunda:field name="label" stringValue="checked" />
        </camunda:taskListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_enter" targetRef="Decide" />
    <bpmn:exclusiveGateway id="Decide" default="F_low" />
    <bpmn:sequenceFlow id="F_high" sourceRef="Decide" targetRef="High">
      <bpmn:conditionExpression>${stamp == 'checked by alice: 7'}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_low" sourceRef="Decide" targetRef="Low" />
    <bpmn:endEvent id="High" />
    <bpmn:endEvent id="Low" />
""",
    )

    def stamp(call: flowdesk.ListenerCall) -> Mapping[str, Any]:
        # The submitted data is visible to the complete listener.
        return {"stamp": f"{call.fields['label']} by {call.user}: {call.get_variable('qty')}"}

    engine = make_engine()
    engine.handlers.register_listener("Stamp", stamp)
    engine.deploy(path)
    instance = engine.start("complete_sets")
    engine.complete(only_task(engine, instance.id).id, {"qty": 7}, user="alice")

    done = engine.instance(instance.id)
    assert done.state == "completed"
    assert done.variables == {"qty": 7, "stamp": "checked by alice: 7"}
    assert [e.element_id for e in engine.history(instance.id) if e.type == "activity_completed"][
        -1
    ] == "High"


def test_listeners__delete_then_end_run_when_a_boundary_timer_cancels_the_task(
    make_engine: EngineFactory, tmp_path: Path, clock: Any
) -> None:
    path = write(
        tmp_path,
        "deleted",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_wait" />
    <bpmn:userTask id="Task_wait">
      <bpmn:extensionElements>
        <camunda:taskListener event="delete">
          <camunda:script scriptFormat="python">cancelled_task = task.id</camunda:script>
        </camunda:taskListener>
        <camunda:executionListener event="end">
          <camunda:script scriptFormat="python">
            ended = execution.getVariable('cancelled_task')
          </camunda:script>
        </camunda:executionListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Late" attachedToRef="Task_wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_wait" targetRef="End" />
    <bpmn:sequenceFlow id="F3" sourceRef="Late" targetRef="End_late" />
    <bpmn:endEvent id="End" />
    <bpmn:endEvent id="End_late" />
""",
    )
    engine = make_engine()
    engine.deploy(path)
    instance = engine.start("deleted")
    task = only_task(engine, instance.id)

    clock.advance(hours=2)
    make_engine().run_due_jobs()

    done = engine.instance(instance.id)
    assert done.state == "completed"
    # The delete task listener ran, then the interrupted task's end listener.
    assert done.variables == {"cancelled_task": task.id, "ended": task.id}
    assert engine.task(task.id).state == "cancelled"


@pytest.mark.parametrize(
    ("listener", "reason"),
    [
        ('<camunda:executionListener event="start" />', "needs class, expression"),
        ('<camunda:executionListener class="A" />', "needs an event"),
        ('<camunda:executionListener class="A" event="take" />', "'take' is not supported"),
        (
            '<camunda:taskListener class="A" event="timeout" />',
            "timeout camunda:taskListener needs an id",
        ),
        (
            '<camunda:taskListener id="T" class="A" event="timeout"><bpmn:timerEventDefinition>'
            "<bpmn:timeCycle>every hour</bpmn:timeCycle></bpmn:timerEventDefinition>"
            "</camunda:taskListener>",
            "timeCycle of 'Task_user' is 'every hour'",
        ),
        (
            '<camunda:taskListener event="create"><camunda:script scriptFormat="groovy">'
            "x</camunda:script></camunda:taskListener>",
            "script format 'groovy'",
        ),
        (
            '<camunda:executionListener event="start" expression="${a +}" />',
            "cannot be translated",
        ),
        ('<camunda:field name="x" />', "camunda:field 'x' has no"),
    ],
)
def test_listeners__that_cannot_run_are_refused_at_deploy_with_the_element(
    make_engine: EngineFactory, tmp_path: Path, listener: str, reason: str
) -> None:
    path = write(
        tmp_path,
        "refused",
        f"""
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_user" />
    <bpmn:userTask id="Task_user">
      <bpmn:extensionElements>{listener}</bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_user" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    engine = make_engine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", flowdesk.MissingHandlerWarning)
        with pytest.raises(flowdesk.BpmnValidationError) as refused:
            engine.deploy(path)
    problem = refused.value.problems[0]
    assert reason in problem.message
    assert problem.element_id == "Task_user"
    assert problem.line is not None


def test_task_listeners__claim_fires_update_then_assignment(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "claimed",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_approve" />
    <bpmn:userTask id="Task_approve" camunda:candidateGroups="finance">
      <bpmn:extensionElements>
        <camunda:taskListener event="update">
          <camunda:script scriptFormat="python">events = events + ['update']</camunda:script>
        </camunda:taskListener>
        <camunda:taskListener event="assignment">
          <camunda:script scriptFormat="python">events = events + ['assignment']
approver = task.getAssignee()</camunda:script>
        </camunda:taskListener>
        <camunda:taskListener event="assignment" expression="${task.addCandidateUser('erin')}" />
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_approve" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    engine = engine_with(make_engine, lambda registry: None)
    engine.deploy(path)
    instance = engine.start("claimed", {"events": []})
    task = only_task(engine, instance.id)
    assert engine.instance(instance.id).variables == {"events": []}  # no assignee yet

    claimed = engine.claim(task.id, user="carol")

    assert claimed.assignee == "carol"
    assert claimed.candidate_users == ("erin",)
    assert engine.instance(instance.id).variables == {
        "events": ["update", "assignment"],
        "approver": "carol",
    }


def test_listeners__run_for_each_instance_of_a_multi_instance_activity(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "listeners_multi_instance.bpmn")

    instance = engine.start("listen_each", {"log": [], "people": ["ann", "ben"]})

    # Each instance's listeners see its element variable; create listeners see the assignee.
    assert instance.variables["log"] == ["start ann", "start ben", "create ann", "create ben"]
    for task in sorted(engine.tasks(instance_id=instance.id), key=lambda t: t.assignee or ""):
        engine.complete(task.id, {}, user=task.assignee)
    done = engine.instance(instance.id)
    assert done.state == "completed"
    assert done.variables["log"][4:] == ["end ann", "end ben", "svc 0", "svc 1"]


def test_task_listeners__reassign_fires_assignment_with_the_new_assignee(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "handed_over",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_do" />
    <bpmn:userTask id="Task_do" camunda:assignee="carol">
      <bpmn:extensionElements>
        <camunda:taskListener event="assignment">
          <camunda:script scriptFormat="python">holders = holders + [task.assignee]</camunda:script>
        </camunda:taskListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_do" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    engine = make_engine()
    engine.deploy(path)
    instance = engine.start("handed_over", {"holders": []})
    # Created with an assignee: the assignment listener ran after create.
    assert engine.instance(instance.id).variables == {"holders": ["carol"]}

    assert engine.reassign("carol", "erin", user="ops") == 1

    assert engine.instance(instance.id).variables == {"holders": ["carol", "erin"]}
    assert only_task(engine, instance.id).assignee == "erin"


_BPMN_ERRORS = """
    <bpmn:error id="Error_stop" errorCode="STOP" />
    <bpmn:process id="listener_errors" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_charge" />
    <bpmn:serviceTask id="Task_charge" camunda:class="com.acme.Charge">
      <bpmn:extensionElements>
        <camunda:executionListener class="com.acme.Guard" event="start" />
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="Charge_stopped" attachedToRef="Task_charge">
      <bpmn:errorEventDefinition errorRef="Error_stop" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_charge" targetRef="Task_approve" />
    <bpmn:sequenceFlow id="F3" sourceRef="Charge_stopped" targetRef="Task_approve" />
    <bpmn:userTask id="Task_approve">
      <bpmn:extensionElements>
        <camunda:taskListener class="com.acme.Guard" event="complete" />
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Approve_stopped" attachedToRef="Task_approve">
      <bpmn:errorEventDefinition errorRef="Error_stop" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F4" sourceRef="Task_approve" targetRef="Task_tidy" />
    <bpmn:sequenceFlow id="F5" sourceRef="Approve_stopped" targetRef="Task_rework" />
    <bpmn:userTask id="Task_rework" />
    <bpmn:sequenceFlow id="F6" sourceRef="Task_rework" targetRef="Task_tidy" />
    <bpmn:scriptTask id="Task_tidy" scriptFormat="python">
      <bpmn:extensionElements>
        <camunda:executionListener class="com.acme.Guard" event="end" />
      </bpmn:extensionElements>
      <bpmn:script>tidied = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F7" sourceRef="Task_tidy" targetRef="Task_after" />
    <bpmn:userTask id="Task_after" />
    <bpmn:sequenceFlow id="F8" sourceRef="Task_after" targetRef="End" />
    <bpmn:endEvent id="End" />
    </bpmn:process>
"""


def test_listeners__bpmn_error_is_thrown_into_the_model_as_camunda_does(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "listener_errors.bpmn"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_listener_errors" '
        f'targetNamespace="http://example.com/listeners">{_BPMN_ERRORS}</bpmn:definitions>'
    )
    charged: list[str] = []
    guarded: list[str] = []

    def guard(call: flowdesk.ListenerCall) -> None:
        guarded.append(f"{call.event}:{call.element_id}")
        raise flowdesk.BpmnError("STOP", variables={"stopped_at": call.element_id})

    def setup(registry: flowdesk.HandlerRegistry) -> None:
        registry.register_listener("Guard", guard)
        registry.register_service("Charge", lambda call: charged.append("charged") and None)

    engine = engine_with(make_engine, setup)
    engine.deploy(path)

    instance = engine.start("listener_errors")

    # The start listener's error was caught by the task's boundary event: no charge.
    assert charged == []
    assert engine.instance(instance.id).variables == {"stopped_at": "Task_charge"}
    approve = only_task(engine, instance.id)
    assert approve.element_id == "Task_approve"

    engine.complete(approve.id, {"ok": True}, user="bob")

    # The complete listener's error was caught: the task was cancelled, not completed.
    assert engine.task(approve.id).state == "cancelled"
    rework = only_task(engine, instance.id)
    assert rework.element_id == "Task_rework"
    assert engine.instance(instance.id).variables["stopped_at"] == "Task_approve"

    engine.complete(rework.id, {}, user="bob")

    # Nothing catches the end listener's error: the path ends there, as in Camunda.
    done = engine.instance(instance.id)
    assert done.state == "completed"
    assert done.variables["tidied"] is True
    assert engine.tasks(instance_id=instance.id) == []
    assert guarded == ["start:Task_charge", "complete:Task_approve", "end:Task_tidy"]


@pytest.mark.parametrize("prefix", ["bpmn", "camunda"])
def test_task_listeners__timeout_fires_once_when_due_and_leaves_the_task_open(
    make_engine: EngineFactory, tmp_path: Path, clock: Any, prefix: str
) -> None:
    # Camunda Modeler writes the listener's timer as bpmn:timerEventDefinition.
    path = write(
        tmp_path,
        "escalating",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_answer" />
    <bpmn:userTask id="Task_answer" camunda:assignee="dave">
      <bpmn:extensionElements>
        <camunda:taskListener id="Escalate" event="timeout" class="com.acme.Escalate">
          <PREFIX:timerEventDefinition>
            <bpmn:timeDuration>${patience}</bpmn:timeDuration>
          </PREFIX:timerEventDefinition>
        </camunda:taskListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_answer" targetRef="End" />
    <bpmn:endEvent id="End" />
""".replace("PREFIX", prefix),
    )

    def escalate(call: flowdesk.ListenerCall) -> Mapping[str, Any]:
        assert call.task is not None
        call.task.set_assignee("bob")
        return {"escalated_at": call.now.isoformat(), "was": call.task.getEventName()}

    engine = engine_with(make_engine, lambda r: r.register_listener("Escalate", escalate))
    engine.deploy(path)
    slow = engine.start("escalating", {"patience": "PT1H"})
    quick = engine.start("escalating", {"patience": "PT1H"})
    engine.complete(only_task(engine, quick.id).id, {}, user="dave")

    clock.advance(minutes=59)
    assert engine.run_due_jobs() == 0
    clock.advance(minutes=2)
    assert engine.run_due_jobs() == 1  # the completed task's timeout went with it

    task = only_task(engine, slow.id)
    assert (task.state, task.assignee) == ("open", "bob")
    assert engine.instance(slow.id).variables["was"] == "timeout"
    clock.advance(hours=5)
    assert engine.run_due_jobs() == 0  # a duration fires once
    engine.complete(task.id, {}, user="bob")
    assert engine.instance(slow.id).state == "completed"
    assert engine.jobs(instance_id=slow.id) == []


def test_task_listeners__a_timeout_cycle_fires_at_each_repetition_and_then_stops(
    make_engine: EngineFactory, tmp_path: Path, clock: Any
) -> None:
    path = write(
        tmp_path,
        "reminding",
        """
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_answer" />
    <bpmn:userTask id="Task_answer" camunda:assignee="dave">
      <bpmn:extensionElements>
        <camunda:taskListener id="Remind" event="timeout" class="com.acme.Remind">
          <bpmn:timerEventDefinition>
            <bpmn:timeCycle>R2/PT1H</bpmn:timeCycle>
          </bpmn:timerEventDefinition>
        </camunda:taskListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_answer" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    reminded: list[str] = []

    def remind(call: flowdesk.ListenerCall) -> Mapping[str, Any]:
        reminded.append(call.now.isoformat())
        return {"reminders": len(reminded)}

    engine = engine_with(make_engine, lambda r: r.register_listener("Remind", remind))
    engine.deploy(path)
    instance = engine.start("reminding")

    fired = []
    for _ in range(4):
        clock.advance(minutes=61)
        fired.append(engine.run_due_jobs())

    assert fired == [1, 1, 0, 0]  # R2: two repetitions, an hour apart
    assert engine.instance(instance.id).variables["reminders"] == 2
    assert only_task(engine, instance.id).state == "open"
    assert engine.jobs(instance_id=instance.id) == []


def test_listeners__javascript_scripts_see_execution_and_task_as_in_camunda(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "js_listeners",
        """
    <bpmn:startEvent id="Start">
      <bpmn:extensionElements>
        <camunda:executionListener event="end">
          <camunda:script scriptFormat="javascript">
            var where = execution.getCurrentActivityId();
            execution.setVariable('started_by', execution.getEventName() + ':' + where);
          </camunda:script>
        </camunda:executionListener>
      </bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="approveInvoice" />
    <bpmn:userTask id="approveInvoice" camunda:candidateGroups="finance">
      <bpmn:extensionElements>
        <camunda:taskListener event="create">
          <camunda:script scriptFormat="javascript">if(!!task.getVariable('approver')) {
  task.setAssignee(approver);
}</camunda:script>
        </camunda:taskListener>
        <camunda:taskListener event="assignment">
          <camunda:script scriptFormat="javascript">
            task.setVariable('approver', task.getAssignee());
          </camunda:script>
        </camunda:taskListener>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="approveInvoice" targetRef="End" />
    <bpmn:endEvent id="End" />
""",
    )
    engine = engine_with(make_engine, lambda registry: None)
    engine.deploy(path)

    preset = engine.start("js_listeners", {"approver": "carol"})
    unset = engine.start("js_listeners", {"approver": None})

    # Camunda's invoice example: the create listener assigns the known approver.
    assert only_task(engine, preset.id).assignee == "carol"
    assert engine.instance(preset.id).variables["started_by"] == "end:Start"
    task = only_task(engine, unset.id)
    assert task.assignee is None
    # Claiming fires the assignment listener, which remembers the approver.
    engine.claim(task.id, user="carol")
    assert engine.instance(unset.id).variables["approver"] == "carol"


def _as_stored_before_listeners(db_url: str, instance_id: str) -> None:
    """Rewrite an instance's stored state as a flowdesk without listeners left it: no flags."""
    import json

    import sqlalchemy

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if not (
                    (k.startswith("flowdesk_") and "listeners" in k)
                    or k.startswith("flowdesk_process")
                )
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    db = sqlalchemy.create_engine(db_url)
    with db.begin() as connection:
        table = sqlalchemy.table(
            "instances", sqlalchemy.column("id"), sqlalchemy.column("workflow_state")
        )
        state = connection.execute(
            sqlalchemy.select(table.c.workflow_state).where(table.c.id == instance_id)
        ).scalar_one()
        connection.execute(
            table.update()
            .where(table.c.id == instance_id)
            .values(workflow_state=json.dumps(strip(json.loads(state))))
        )
    db.dispose()


def test_listeners__instances_stored_before_listeners_ran_do_not_run_past_ones_late(
    make_engine: EngineFactory, db_url: str
) -> None:
    recorder = Recorder()
    engine = make_engine()
    recorder.register(engine.handlers)
    engine.deploy(DATA / "listeners_order.bpmn")
    instance = engine.start("listen_order", {"amount": 500, "reviewer": "bob"})
    _as_stored_before_listeners(db_url, instance.id)
    recorder.calls.clear()

    upgraded = make_engine()
    recorder.register(upgraded.handlers)
    upgraded.complete(only_task(upgraded, instance.id).id, {}, user="bob")

    # No late process or task start: only what happens from now on.
    assert recorder.calls == [
        "complete:Task_review",
        "end:Task_review",
        "end:End_big",
        "end:listen_order",
    ]
