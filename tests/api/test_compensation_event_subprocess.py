"""Compensation event sub-processes: a sub-process's compensation handler, as Camunda 7 runs it.

A completed sub-process whose compensation handler is an event sub-process with a compensation
start event: compensating the sub-process runs that event sub-process (not the inner handlers
one by one), with the sub-process's local variables as they were when it completed; its own
compensation throws undo the inner completed activities. Each test runs with one `Engine` and
with a new `Engine` for each call.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA

import flowdesk

Engines = Callable[[], flowdesk.Engine]


@pytest.fixture(params=["one_engine", "new_engine_each_call"])
def engines(request: pytest.FixtureRequest, make_engine: Callable[..., flowdesk.Engine]) -> Engines:
    """Gives the engine for the next call: always the same one, or a new one each time."""
    first = make_engine()
    first.deploy(DATA / "compensation_event_subprocess_booking.bpmn")
    first.deploy(DATA / "compensation_event_subprocess_unfinished.bpmn")
    first.deploy(DATA / "compensation_event_subprocess_parcels.bpmn")
    first.deploy(DATA / "compensation_event_subprocess_nested.bpmn")
    if request.param == "one_engine":
        return lambda: first
    return make_engine


def open_tasks(engines: Engines, instance_id: str) -> list[str]:
    return sorted(t.element_id for t in engines().tasks(instance_id=instance_id))


def complete(
    engines: Engines, instance_id: str, element_id: str, data: dict[str, object] | None = None
) -> flowdesk.ProcessInstance:
    (task,) = [t for t in engines().tasks(instance_id=instance_id) if t.element_id == element_id]
    return engines().complete(task.id, data or {})


def completed_elements(engines: Engines, instance_id: str) -> list[str]:
    return [
        e.element_id
        for e in engines().history(instance_id)
        if e.type == "activity_completed" and e.element_id
    ]


def test_compensating_the_sub_process__runs_its_event_sub_process_in_its_own_order(
    engines: Engines,
) -> None:
    trip = engines().start("booking_trip", {"booked": [], "undone": [], "customer": "ann"})
    assert engines().instance(trip.id).variables["booked"] == ["hotel", "flight", "charge"]

    # The input parameter `bookingRef` was "B-ann" when the sub-process completed.
    after = complete(engines, trip.id, "Task_validate", {"valid": False, "customer": "zed"})

    # Newest first: the charge, then the sub-process, whose event sub-process undoes the
    # hotel before the flight (its throws' order, not the completion order).
    assert after.variables["undone"] == ["charge", "hotel", "flight"]
    # It sees the sub-process's input parameter as it was then, which never reached the process.
    assert after.variables["undone_ref"] == "B-ann"
    assert "bookingRef" not in after.variables
    # The compensation end event waits for the event sub-process's user task.
    assert after.state == "running"
    assert open_tasks(engines, trip.id) == ["Task_tell_customer"]
    history = completed_elements(engines, trip.id)
    assert "End_undo_all" not in history
    assert history.index("Task_refund") < history.index("Start_undo_booking")
    assert history.index("Task_cancel_hotel") < history.index("Task_cancel_flight")

    done = complete(engines, trip.id, "Task_tell_customer")

    assert done.state == "completed"
    assert "bookingRef" not in done.variables  # it stayed local to the event scope
    history = completed_elements(engines, trip.id)
    assert history.index("Sub_undo_booking") < history.index("End_undo_all")


def test_no_compensation__the_event_sub_process_never_runs(engines: Engines) -> None:
    trip = engines().start("booking_trip", {"booked": [], "undone": [], "customer": "bo"})

    done = complete(engines, trip.id, "Task_validate", {"valid": True})

    assert done.state == "completed"
    assert done.variables["undone"] == []
    assert "Start_undo_booking" not in completed_elements(engines, trip.id)


def test_sub_process_not_completed__its_event_sub_process_does_not_run(engines: Engines) -> None:
    case = engines().start("abort_while_booking", {"booked": [], "undone": []})
    assert open_tasks(engines, case.id) == ["Task_abort", "Task_confirm"]

    after = complete(engines, case.id, "Task_abort")

    # The sub-process still runs: it has left nothing to compensate in the process scope.
    assert after.variables["undone"] == []
    assert open_tasks(engines, case.id) == ["Task_confirm"]
    assert "Start_undo_booking" not in completed_elements(engines, case.id)
    assert complete(engines, case.id, "Task_confirm").state == "completed"


def test_sub_process_completed_later__a_later_throw_would_find_it(engines: Engines) -> None:
    case = engines().start("abort_while_booking", {"booked": [], "undone": []})
    complete(engines, case.id, "Task_confirm")

    after = complete(engines, case.id, "Task_abort")

    # The event sub-process's throw (no activityRef) undoes the hotel, then it notes itself.
    assert after.variables["undone"] == ["hotel", "booking"]
    assert after.state == "completed"


def test_multi_instance_sub_process__each_instance_runs_it_and_a_waiting_one_lets_the_next_start(
    engines: Engines,
) -> None:
    shipment = engines().start(
        "parcel_labels", {"parcels": ["p1", "p2"], "labels": [], "voided": 0}
    )
    assert engines().instance(shipment.id).variables["labels"] == ["p1", "p2"]

    after = complete(engines, shipment.id, "Task_hand_over")

    # One event sub-process per completed instance; each voids its own label, and the second
    # starts once the first waits at its user task (Camunda 7 opens both together).
    assert after.variables["voided"] == 2
    assert open_tasks(engines, shipment.id) == ["Task_apologise", "Task_apologise"]
    assert after.state == "running"
    complete_one = engines().tasks(instance_id=shipment.id)[0]
    assert engines().complete(complete_one.id, {}).state == "running"
    assert complete(engines, shipment.id, "Task_apologise").state == "completed"


def test_nested__its_throw_runs_the_inner_sub_process_s_and_leaves_the_rest_done(
    engines: Engines,
) -> None:
    order = engines().start("nested_undo", {"done": [], "undone": []})
    complete(engines, order.id, "Task_decide")

    # The order's event sub-process runs first; the payment's only when its throw names it.
    assert open_tasks(engines, order.id) == ["Task_cancel_order"]
    complete(engines, order.id, "Task_cancel_order")
    assert open_tasks(engines, order.id) == ["Task_refund"]

    done = complete(engines, order.id, "Task_refund")

    assert done.state == "completed"
    # The reservation's handler never ran: the order's event sub-process did not compensate it.
    assert done.variables["undone"] == []
    history = completed_elements(engines, order.id)
    assert "Task_release" not in history
    assert history.index("Sub_undo_inner") < history.index("Throw_undo_payment")
    assert history.index("Sub_undo_outer") < history.index("Throw_undo_order")
