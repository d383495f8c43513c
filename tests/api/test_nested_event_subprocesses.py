"""Event sub-processes inside embedded sub-processes, as Camunda 7 runs them: they listen while
their sub-process runs; an interrupting one cancels that sub-process only, and the process goes
on after it; a non-interrupting one runs beside it, and the sub-process waits for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA, Clock, complete, open_tasks

import flowdesk


@pytest.fixture
def nested(make_engine: Callable[..., flowdesk.Engine]) -> flowdesk.Engine:
    def test_part(call: flowdesk.ServiceCall) -> dict[str, object]:
        raise flowdesk.BpmnError("BROKEN", "the part broke")

    registry = flowdesk.HandlerRegistry()
    registry.register_service("parts.Test", test_part)
    engine = make_engine(handlers=registry)
    engine.deploy(DATA / "events_nested_event_subprocesses.bpmn")
    return engine


def packing(engine: flowdesk.Engine, key: str) -> flowdesk.ProcessInstance:
    """An instance of `packing` inside its sub-process, at `Task_pack`."""
    instance = engine.start("packing", {"notes": 0}, business_key=key)
    complete(engine, instance.id, "Task_prepare")
    return instance


def test_interrupting_message__cancels_only_its_sub_process_and_the_process_goes_on(
    nested: flowdesk.Engine,
) -> None:
    instance = packing(nested, "K-1")

    nested.correlate("stop_packing", business_key="K-1")

    assert open_tasks(nested, instance.id) == ["Task_unpack"]
    (pack,) = [
        t for t in nested.tasks(instance_id=instance.id, state=None) if t.element_id == "Task_pack"
    ]
    assert pack.state == "cancelled"
    with pytest.raises(flowdesk.CorrelationError):
        nested.correlate("packing_note", business_key="K-1")  # the interrupted scope is deaf
    complete(nested, instance.id, "Task_unpack")
    assert open_tasks(nested, instance.id) == ["Task_ship"]
    assert complete(nested, instance.id, "Task_ship").state == "completed"


def test_sub_process_messages__are_heard_only_while_the_sub_process_runs(
    nested: flowdesk.Engine,
) -> None:
    instance = nested.start("packing", {"notes": 0}, business_key="K-1")
    with pytest.raises(flowdesk.CorrelationError):
        nested.correlate("stop_packing", business_key="K-1")

    complete(nested, instance.id, "Task_prepare")
    complete(nested, instance.id, "Task_pack")

    assert open_tasks(nested, instance.id) == ["Task_ship"]
    with pytest.raises(flowdesk.CorrelationError):
        nested.correlate("stop_packing", business_key="K-1")
    assert nested.jobs(instance_id=instance.id) == []  # its timer went with it


def test_non_interrupting_message__runs_beside_the_sub_process_each_time(
    nested: flowdesk.Engine,
) -> None:
    instance = packing(nested, "K-1")

    nested.correlate("packing_note", business_key="K-1")
    nested.correlate("packing_note", business_key="K-1")

    assert nested.instance(instance.id).variables["notes"] == 2
    assert open_tasks(nested, instance.id) == ["Task_pack"]


def test_non_interrupting_signal__the_sub_process_waits_for_its_event_sub_process(
    nested: flowdesk.Engine,
) -> None:
    instance = packing(nested, "K-1")

    assert nested.signal("recount") == 1
    assert open_tasks(nested, instance.id) == ["Task_pack", "Task_recount"]
    complete(nested, instance.id, "Task_pack")
    assert open_tasks(nested, instance.id) == ["Task_recount"]

    complete(nested, instance.id, "Task_recount")
    assert open_tasks(nested, instance.id) == ["Task_ship"]


def test_non_interrupting_timer__starts_inside_the_running_sub_process(
    nested: flowdesk.Engine, clock: Clock
) -> None:
    instance = packing(nested, "K-1")

    clock.advance(hours=2)
    nested.run_due_jobs()

    assert open_tasks(nested, instance.id) == ["Task_hurry", "Task_pack"]


def test_error_inside__is_caught_by_the_sub_processs_own_event_sub_process_first(
    nested: flowdesk.Engine,
) -> None:
    instance = nested.start("assembly")

    complete(nested, instance.id, "Task_assemble", {"outcome": "test"})

    assert open_tasks(nested, instance.id) == ["Task_inspect"]
    assert nested.instance(instance.id).variables["inner_code"] == "BROKEN"
    complete(nested, instance.id, "Task_inspect", {"fixable": True})
    assert open_tasks(nested, instance.id) == ["Task_after_assembly"]
    assert "outer_code" not in nested.instance(instance.id).variables


def test_error_rethrown_by_the_event_sub_process__goes_to_the_boundary_not_back_to_itself(
    nested: flowdesk.Engine,
) -> None:
    # Camunda's ErrorEventSubProcessTest.testShouldNotThrowErrorInLoop
    instance = nested.start("assembly")
    complete(nested, instance.id, "Task_assemble", {"outcome": "test"})

    complete(nested, instance.id, "Task_inspect", {"fixable": False})

    assert open_tasks(nested, instance.id) == ["Task_scrap"]
    assert nested.instance(instance.id).variables["outer_code"] == "BROKEN"


def test_non_interrupting_escalation_inside__runs_beside_the_thrower(
    nested: flowdesk.Engine,
) -> None:
    instance = nested.start("assembly")

    complete(nested, instance.id, "Task_assemble", {"outcome": "heavy"})

    assert open_tasks(nested, instance.id) == ["Task_after_heavy", "Task_get_help"]
    assert nested.instance(instance.id).variables["escalated"] == "HEAVY"
    complete(nested, instance.id, "Task_after_heavy")
    assert open_tasks(nested, instance.id) == ["Task_get_help"]
    complete(nested, instance.id, "Task_get_help")
    assert open_tasks(nested, instance.id) == ["Task_after_assembly"]


@pytest.mark.parametrize(("weight", "expected"), [(80, ["Task_heavy_lift"]), (20, ["Task_label"])])
def test_conditional_inside__interrupts_its_sub_process_when_its_condition_turns_true(
    nested: flowdesk.Engine, weight: int, expected: list[str]
) -> None:
    instance = nested.start("inspection", {"weight": 0})

    complete(nested, instance.id, "Task_weigh", {"weight": weight})

    assert open_tasks(nested, instance.id) == expected
    complete(nested, instance.id, expected[0])
    assert open_tasks(nested, instance.id) == ["Task_inspected"]


def test_terminate_end_in_a_non_interrupting_event_sub_process__ends_only_that_event_sub_process(
    nested: flowdesk.Engine,
) -> None:
    # Camunda's MessageEventSubprocessTest.testNonInterruptingWithTerminatingEndEvent
    instance = nested.start("labelling", business_key="L-1")
    nested.correlate("relabel", business_key="L-1")
    assert len(nested.jobs(instance_id=instance.id)) == 1  # the boundary timer on Task_relabel

    after = complete(nested, instance.id, "Task_relabel")

    assert after.state == "running"
    assert open_tasks(nested, instance.id) == ["Task_print_label"]
    assert nested.jobs(instance_id=instance.id) == []
    assert complete(nested, instance.id, "Task_print_label").state == "completed"


def test_interrupting__also_cancels_a_running_non_interrupting_event_sub_process_of_its_scope(
    nested: flowdesk.Engine,
) -> None:
    instance = packing(nested, "K-1")
    nested.signal("recount")

    nested.correlate("stop_packing", business_key="K-1")

    states = {t.element_id: t.state for t in nested.tasks(instance_id=instance.id, state=None)}
    assert states == {
        "Task_prepare": "completed",
        "Task_pack": "cancelled",
        "Task_recount": "cancelled",
        "Task_unpack": "open",
    }
    assert nested.signal("recount") == 0  # the interrupted scope no longer listens


def test_message__heard_by_several_activities_of_one_instance_is_refused_as_camunda_does(
    nested: flowdesk.Engine,
) -> None:
    # Camunda's correlateMessage needs exactly one waiting execution; two sub-process
    # instances listening for it is a MismatchingMessageCorrelationException there.
    instance = nested.start("item_packing", {"items": ["cup", "plate"]}, business_key="I-1")

    with pytest.raises(flowdesk.CorrelationError, match="2 places in the instance"):
        nested.correlate("item_note", business_key="I-1")

    assert open_tasks(nested, instance.id) == ["Task_pack_item", "Task_pack_item"]
    (first, _) = nested.tasks(instance_id=instance.id)
    nested.complete(first.id)
    nested.correlate("item_note", business_key="I-1")  # only the other item listens now
    assert open_tasks(nested, instance.id) == ["Task_pack_item", "Task_read_note"]
