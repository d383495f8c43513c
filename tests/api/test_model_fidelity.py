"""Models run as Camunda 7 runs them, or are refused at deploy: nothing is dropped silently.

Each case is a construct Camunda 7 runs that SpiffWorkflow 3.2 read differently: sequence flows
without an id, conditional or several flows leaving an activity or event rather than a gateway,
an element the parser would leave out, an `errorRef` naming no error, `Engine.start` on a
process without a none start event, and `camunda:initiator`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DATA

import flowdesk


def _open(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return sorted(task.element_id for task in engine.tasks(instance_id=instance_id))


def _complete(engine: flowdesk.Engine, instance_id: str, element_id: str, **data: object) -> None:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.complete(task.id, dict(data), user="alice")


# -- sequence flows without an id ----------------------------------------------------------------


def test_idless_flows__run_as_drawn(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_idless_flows.bpmn")

    instance = engine.start("idless_flows")

    assert instance.state == "running"
    assert _open(engine, instance.id) == ["review"]


@pytest.mark.parametrize(("ok", "path"), [(True, []), (False, ["rework"])])
def test_idless_flows__conditions_choose_the_path_after_a_restart(
    make_engine: Callable[..., flowdesk.Engine], ok: bool, path: list[str]
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_idless_flows.bpmn")
    instance = first.start("idless_flows")

    second = make_engine()
    _complete(second, instance.id, "review", ok=ok)

    assert _open(second, instance.id) == path
    assert second.instance(instance.id).state == ("completed" if ok else "running")


def test_idless_flows__a_problem_names_the_generated_id_and_the_line(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    text = (DATA / "fidelity_idless_flows.bpmn").read_text()
    broken = tmp_path / "broken.bpmn"
    broken.write_text(text.replace("${!ok}", "${ok ==}"))

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(broken)

    (problem,) = caught.value.problems
    assert problem.element_id == "sequenceFlow_decide_rework"
    assert problem.line == 16  # the id-less flow's conditionExpression


# -- conditional flows leaving an activity or event -----------------------------------------------


@pytest.mark.parametrize(
    ("amount", "taken"),
    [
        (50, ["archive", "notify"]),  # only `small` is true
        (1000, ["approve", "notify"]),  # only `big` is true
        (200, ["approve", "archive", "notify"]),  # both are true
    ],
)
def test_activity_conditions__every_true_and_every_unconditional_flow_is_taken(
    make_engine: Callable[..., flowdesk.Engine], amount: int, taken: list[str]
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_activity_conditions.bpmn")
    instance = first.start("leave_conditions")
    assert _open(first, instance.id) == ["enter"]

    # A new engine evaluates the conditions: nothing of them lives only in memory.
    second = make_engine()
    _complete(second, instance.id, "enter", amount=amount)

    assert _open(second, instance.id) == taken


def test_activity_conditions__paths_end_independently(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")
    instance = engine.start("leave_conditions")
    _complete(engine, instance.id, "enter", amount=200)

    for element_id in ("approve", "archive", "notify"):
        _complete(engine, instance.id, element_id)

    assert engine.instance(instance.id).state == "completed"


@pytest.mark.parametrize(("points", "taken"), [(60, ["auto"]), (10, ["manual"])])
def test_activity_default__taken_only_when_no_condition_is_true(
    engine: flowdesk.Engine, points: int, taken: list[str]
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_default", {"points": points})

    assert _open(engine, instance.id) == taken


@pytest.mark.parametrize(("score", "taken"), [(9, ["escalate"]), (2, ["file"])])
def test_subprocess_conditions__chosen_when_it_ends_with_its_default(
    engine: flowdesk.Engine, score: int, taken: list[str]
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_subprocess", {"score": score})

    assert _open(engine, instance.id) == taken


@pytest.mark.parametrize(("amount", "taken"), [(50, ["ship"]), (500, ["return_goods"])])
def test_call_activity_conditions__read_what_the_called_process_returned(
    engine: flowdesk.Engine, amount: int, taken: list[str]
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_call", {"amount": amount})

    assert _open(engine, instance.id) == taken


@pytest.mark.parametrize(("amount", "taken"), [(500, ["j_big"]), (5, ["j_small"])])
def test_activity_conditions__javascript_condition_and_default_after_a_restart(
    make_engine: Callable[..., flowdesk.Engine], amount: int, taken: list[str]
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_activity_conditions.bpmn")
    instance = first.start("leave_javascript")

    second = make_engine()
    _complete(second, instance.id, "j_enter", amount=amount)

    assert _open(second, instance.id) == taken


def test_activity_without_conditions__every_outgoing_flow_runs_in_parallel(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_parallel")

    assert _open(engine, instance.id) == ["invoice", "pack"]


def test_activity_conditions__none_true_and_no_default_is_an_incident_at_the_activity(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_no_match", {"go": False})

    assert instance.state == "incident"
    assert instance.incident is not None
    assert "leaving the Flow Node 'n_start'" in instance.incident
    (incident,) = [e for e in engine.history(instance.id) if e.type == "incident"]
    assert incident.element_id == "n_start"
    assert _open(engine, instance.id) == []


def test_activity_conditions__a_true_condition_from_a_start_event_is_taken(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")

    instance = engine.start("leave_no_match", {"go": True})

    assert _open(engine, instance.id) == ["n_task"]


def test_activity_conditions__history_shows_only_the_model_elements(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_activity_conditions.bpmn")
    instance = engine.start("leave_default", {"points": 60})

    recorded = {e.element_id for e in engine.history(instance.id) if e.element_id}

    assert recorded <= {"d_start", "score", "auto", "manual", "d_end_auto", "d_end_manual"}
    assert "score" in recorded


# -- nothing reachable is left out ----------------------------------------------------------------


def test_deploy__refuses_a_reachable_element_the_parser_would_leave_out(
    engine: flowdesk.Engine,
) -> None:
    # The timer is attached to a task of the sub-process but drawn in the process: SpiffWorkflow
    # never attaches it (Camunda 7 refuses it too, "not defined in the same scope").
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "fidelity_boundary_other_scope.bpmn")

    problems = {(p.element_id, p.line) for p in caught.value.problems}
    assert problems == {("late", 14), ("escalate", 16)}
    assert all(p.file.endswith("fidelity_boundary_other_scope.bpmn") for p in caught.value.problems)
    assert "would leave it out" in caught.value.problems[0].message
    assert engine.definitions() == []


# -- Engine.start on a process without a none start event ----------------------------------------


def test_start__runs_through_the_only_start_event_when_it_catches_a_message(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_start_events.bpmn")

    instance = first.start("by_message_only", {"order": 7}, business_key="O-7")

    second = make_engine()
    assert _open(second, instance.id) == ["handle_order"]
    assert second.instance(instance.id).variables == {"order": 7, "placed_by": None}
    _complete(second, instance.id, "handle_order")
    assert second.instance(instance.id).state == "completed"


def test_start__leaves_the_message_start_to_correlate_for_later_instances(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")
    engine.start("by_message_only")

    correlated = engine.correlate("order_placed", business_key="O-8")

    assert correlated.business_key == "O-8"
    assert _open(engine, correlated.id) == ["handle_order"]


def test_start__runs_through_the_only_start_event_when_it_catches_a_signal(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")

    instance = engine.start("by_signal_only")

    assert _open(engine, instance.id) == ["reorder"]
    assert not [e for e in engine.history(instance.id) if e.type == "signal_received"]


def test_start__runs_through_the_only_start_event_without_evaluating_its_condition(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")

    instance = engine.start("by_condition_only")

    assert instance.state == "running"
    assert _open(engine, instance.id) == ["restock"]


def test_start__begins_at_the_timer_start_event_when_there_is_no_none_start(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")

    instance = engine.start("by_timer_or_message")

    assert _open(engine, instance.id) == ["count_nightly"]
    assert engine.jobs(instance_id=instance.id) == []
    assert _open(engine, engine.correlate("count_requested").id) == ["count_on_request"]


def test_start__without_a_start_event_to_begin_at_is_refused_and_stores_nothing(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")

    with pytest.raises(flowdesk.StartEventError) as caught:
        engine.start("by_two_messages")

    assert caught.value.process_key == "by_two_messages"
    assert "web_order" in str(caught.value) and "phone_order" in str(caught.value)
    assert engine.instances(key="by_two_messages") == []


# -- camunda:initiator -----------------------------------------------------------------------------


def test_initiator__the_attribute_names_the_variable_that_holds_the_user(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_initiator.bpmn")

    instance = engine.start("named_initiator", user="alice")

    assert instance.variables == {"requester": "alice"}
    (task,) = engine.tasks(instance_id=instance.id)
    assert (task.element_id, task.assignee) == ("known", "alice")


def test_initiator__is_null_when_no_user_starts_the_instance(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_initiator.bpmn")

    instance = first.start("named_initiator")

    assert instance.variables == {"requester": None}
    assert _open(make_engine(), instance.id) == ["anonymous"]


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="caller_defs"
    targetNamespace="http://flowdesk.test/caller">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="c_start"/>
    <bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="{first}"/>
    {steps}
    <bpmn:callActivity id="c_call" calledElement="named_initiator"/>
    <bpmn:sequenceFlow id="c3" sourceRef="c_call" targetRef="c_end"/>
    <bpmn:endEvent id="c_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("after_a_task", [False, True], ids=["at start", "after a task"])
def test_initiator__of_a_called_process_is_the_user_whose_call_reached_it(
    engine: flowdesk.Engine, tmp_path: Path, after_a_task: bool
) -> None:
    # Camunda sets it from the authenticated user of the command that reaches the call.
    steps = (
        '<bpmn:userTask id="c_review"/><bpmn:sequenceFlow id="c2" sourceRef="c_review" '
        'targetRef="c_call"/>'
        if after_a_task
        else ""
    )
    caller = CALLER.format(first="c_review" if after_a_task else "c_call", steps=steps)
    (tmp_path / "caller.bpmn").write_text(caller)
    engine.deploy(DATA / "fidelity_initiator.bpmn")
    engine.deploy(tmp_path / "caller.bpmn")

    parent = engine.start("caller", user="alice")
    if after_a_task:
        (review,) = engine.tasks(instance_id=parent.id)
        engine.complete(review.id, user="bob")

    (called,) = engine.instances(parent_id=parent.id)
    assert called.variables == {"requester": "bob" if after_a_task else "alice"}
    assert _open(engine, called.id) == ["known"]


def test_initiator__start_variables_win_over_the_user(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_initiator.bpmn")

    instance = engine.start("named_initiator", {"requester": "bob"}, user="alice")

    assert instance.variables == {"requester": "bob"}


def test_initiator__no_variable_without_the_attribute(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_initiator.bpmn")

    instance = engine.start("no_initiator", user="alice")

    assert instance.variables == {}


def test_initiator__a_message_start_sets_it_to_null(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_start_events.bpmn")

    instance = engine.correlate("order_placed", variables={"order": 9})

    assert instance.variables == {"order": 9, "placed_by": None}


# -- errorRef without a bpmn:error ---------------------------------------------------------------


def test_error_ref__unresolved_text_is_the_code_thrown_and_caught(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "fidelity_error_refs.bpmn")

    instance = engine.start("error_ref_text")

    assert _open(engine, instance.id) == ["a_handle"]
    assert engine.instance(instance.id).variables == {"code": "LIMIT_EXCEEDED"}


def test_error_ref__unresolved_text_is_caught_by_a_declared_errors_code(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first = make_engine()
    first.deploy(DATA / "fidelity_error_refs.bpmn")

    instance = first.start("error_ref_by_code")

    second = make_engine()
    assert _open(second, instance.id) == ["b_handle"]
    assert second.instance(instance.id).variables == {"code": "CREDIT_DENIED"}
    _complete(second, instance.id, "b_handle")
    assert second.instance(instance.id).state == "completed"


def test_error_ref__unresolved_text_on_an_event_subprocess_start_catches_by_code(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "fidelity_error_refs.bpmn")

    instance = engine.start("error_ref_event_subprocess")

    assert _open(engine, instance.id) == ["c_recover"]


def test_escalation_ref__unresolved_text_is_refused_as_camunda_refuses_it(
    engine: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "fidelity_escalation_ref.bpmn")

    (problem,) = caught.value.problems
    assert (problem.element_id, problem.line) == ("e_raise", 9)
    assert "escalation 'LATE'" in problem.message


def test_error_end_event__without_error_ref_is_refused_as_camunda_refuses_it(
    engine: flowdesk.Engine,
) -> None:
    # Camunda 7: "'errorRef' attribute is mandatory on error end event".
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "fidelity_error_end_without_ref.bpmn")

    (problem,) = caught.value.problems
    assert (problem.element_id, problem.line) == ("f_fail", 13)
    assert "no errorRef" in problem.message
    assert engine.definitions() == []


# -- QName references ------------------------------------------------------------------------------

QNAME_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:tns="urn:booking"
    id="qname_defs" targetNamespace="urn:booking">
  <message id="newBooking" name="newBookingMessage" />
  <process id="booking" isExecutable="true">
    <startEvent id="booked"><messageEventDefinition messageRef="tns:newBooking" /></startEvent>
    <sequenceFlow id="q1" sourceRef="booked" targetRef="confirm" />
    <userTask id="confirm" />
    <sequenceFlow id="q2" sourceRef="confirm" targetRef="done" />
    <endEvent id="done" />
  </process>
</definitions>
"""


def test_message_ref__written_as_a_qname_of_the_file_resolves_as_in_camunda(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    # Camunda's BpmnParse.resolveName reads `tns:newBooking` as the file's own message.
    (tmp_path / "booking.bpmn").write_text(QNAME_MESSAGE)
    make_engine().deploy(tmp_path / "booking.bpmn")

    instance = make_engine().correlate("newBookingMessage")

    assert _open(make_engine(), instance.id) == ["confirm"]
