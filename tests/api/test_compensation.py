"""Compensation as Camunda 7 runs it: handlers of completed activities, newest first.

The module is in `RESTART_MODULES` (see conftest): each test also runs with a new `Engine` for
each call, so the state between calls only lives in the database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA, complete, open_tasks

import flowdesk


@pytest.fixture
def trips(engine: flowdesk.Engine) -> flowdesk.Engine:
    """An engine with the compensation models deployed."""
    engine.deploy(DATA / "compensation.bpmn")
    return engine


def completed_elements(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return [
        e.element_id
        for e in engine.history(instance_id)
        if e.type == "activity_completed" and e.element_id
    ]


def test_throw__undoes_completed_bookings_newest_first_and_skips_the_unfinished_one(
    trips: flowdesk.Engine,
) -> None:
    trip = trips.start("trip", {"booked": [], "undone": [], "abort": True})
    assert open_tasks(trips, trip.id) == ["Task_book_car", "Task_decide"]

    after = complete(trips, trip.id, "Task_decide")

    # The car is still being booked: it has not completed, so it is not compensated.
    assert after.variables["undone"] == ["flight", "hotel"]
    assert open_tasks(trips, trip.id) == ["Task_book_car", "Task_report"]
    history = completed_elements(trips, trip.id)
    assert history.index("Script_cancel_flight") < history.index("Script_cancel_hotel")
    assert history.index("Script_cancel_hotel") < history.index("Throw_undo_trip")

    complete(trips, trip.id, "Task_book_car")
    done = complete(trips, trip.id, "Task_report")
    assert done.state == "completed"
    assert done.variables["undone"] == ["flight", "hotel"]


def test_no_throw__nothing_is_compensated(trips: flowdesk.Engine) -> None:
    trip = trips.start("trip", {"booked": [], "undone": [], "abort": False})
    complete(trips, trip.id, "Task_decide")
    done = complete(trips, trip.id, "Task_book_car")
    assert done.state == "completed"
    assert done.variables == {"booked": ["hotel", "flight"], "undone": [], "abort": False}
    assert "Script_cancel_car" not in completed_elements(trips, trip.id)


def test_user_task_handlers__the_throw_waits_until_both_are_done(trips: flowdesk.Engine) -> None:
    trip = trips.start("trip_by_hand")
    complete(trips, trip.id, "Task_book_flight")

    # Camunda starts every handler at once; the flow after the throw waits for all of them.
    assert open_tasks(trips, trip.id) == ["Task_cancel_flight", "Task_cancel_hotel"]
    halfway = complete(trips, trip.id, "Task_cancel_flight")
    assert "undo_finished" not in halfway.variables
    assert open_tasks(trips, trip.id) == ["Task_cancel_hotel"]

    after = complete(trips, trip.id, "Task_cancel_hotel")
    assert after.variables["undo_finished"] is True
    assert open_tasks(trips, trip.id) == ["Task_close"]
    assert complete(trips, trip.id, "Task_close").state == "completed"


def test_handlers_run_one_after_another__a_waiting_one_lets_the_next_start(
    trips: flowdesk.Engine,
) -> None:
    work = trips.start("mixed_undo", {"undone": []})
    complete(trips, work.id, "Task_step_b")

    # C completed last and is undone first; B's handler waits for a person, A's runs meanwhile.
    waiting = trips.instance(work.id)
    assert waiting.variables["undone"] == ["c", "a"]
    assert "after" not in waiting.variables
    assert open_tasks(trips, work.id) == ["Task_undo_b"]

    done = complete(trips, work.id, "Task_undo_b", {"undone": ["c", "a", "b"]})
    assert done.state == "completed"
    assert done.variables["after"] == ["c", "a", "b"]


def test_activity_ref__undoes_only_that_activity_and_each_completion_is_undone_once(
    trips: flowdesk.Engine,
) -> None:
    trip = trips.start("trip_hotel_first", {"undone": []})

    assert trips.instance(trip.id).variables["undone"] == ["hotel"]
    assert open_tasks(trips, trip.id) == ["Task_check_hotel"]

    # The compensation end event then finds only the flight: the hotel was undone already.
    done = complete(trips, trip.id, "Task_check_hotel")
    assert done.state == "completed"
    assert done.variables["undone"] == ["hotel", "flight"]


@pytest.mark.parametrize(("wanted", "released"), [(3, 3), (2, 2)])
def test_multi_instance__the_handler_runs_once_per_completed_instance(
    trips: flowdesk.Engine, wanted: int, released: int
) -> None:
    seats = trips.start(
        "seats",
        {"passengers": ["ann", "ben", "cy"], "wanted": wanted, "reserved": 0, "released": 0},
    )

    done = trips.instance(seats.id)
    assert done.state == "completed"
    assert (done.variables["reserved"], done.variables["released"]) == (wanted, released)


def test_transaction_cancel__undoes_the_bookings_inside_before_the_cancel_flow(
    trips: flowdesk.Engine,
) -> None:
    failed = trips.start("booking_tx", {"undone": []})
    after = complete(trips, failed.id, "Task_book_flight_tx", {"available": False})

    assert after.variables["undone"] == ["flight", "hotel"]
    assert after.variables["undone_when_cancelled"] == ["flight", "hotel"]
    assert open_tasks(trips, failed.id) == ["Task_apologise_tx"]

    booked = trips.start("booking_tx", {"undone": []})
    kept = complete(trips, booked.id, "Task_book_flight_tx", {"available": True})
    assert kept.variables["undone"] == []
    assert open_tasks(trips, booked.id) == ["Task_enjoy"]


def test_throw_inside_a_sub_process__undoes_only_the_sub_process_work(
    trips: flowdesk.Engine,
) -> None:
    nested = trips.start("nested_undo", {"undone": []})

    assert trips.instance(nested.id).variables["undone"] == ["inner"]
    assert open_tasks(trips, nested.id) == ["Task_after_inner"]
    assert complete(trips, nested.id, "Task_after_inner").state == "completed"


def test_throw_in_an_event_sub_process__undoes_the_work_of_the_scope_around_it(
    trips: flowdesk.Engine,
) -> None:
    order = trips.start("refund_on_error")

    done = trips.instance(order.id)
    assert done.state == "completed"
    # The flow after the throw saw the refund: the handler ran first.
    assert done.variables == {"charged": 120, "refunded": 120, "told": 120}


def test_sub_process_with_a_handler__compensating_it_runs_its_handler(
    trips: flowdesk.Engine,
) -> None:
    parcel = trips.start("packing")
    assert open_tasks(trips, parcel.id) == ["Task_ship_parcel"]

    trips.correlate("parcel_lost")

    assert open_tasks(trips, parcel.id) == ["Task_unpack"]
    assert trips.instance(parcel.id).state == "running"  # the end event waits for it
    assert complete(trips, parcel.id, "Task_unpack").state == "completed"


def test_call_activity_with_a_handler__compensated_after_its_instance_ended(
    trips: flowdesk.Engine,
) -> None:
    order = trips.start("stock_order")
    (called,) = [i for i in trips.instances() if i.parent_id == order.id]

    complete(trips, called.id, "Task_pick")

    done = trips.instance(order.id)
    assert done.state == "completed"
    assert done.variables["reserved"] is False
    assert "Script_unreserve" in completed_elements(trips, order.id)


def test_completed_sub_process__its_inner_completions_are_undone_newest_first(
    trips: flowdesk.Engine,
) -> None:
    trip = trips.start("trip_in_parts", {"booked": [], "undone": []})

    # Charge completed last, then the sub-process; inside it the nested seat sub-process
    # completed after the flight, which completed after the hotel.
    assert trips.instance(trip.id).variables["undone"] == ["charge", "seat", "flight", "hotel"]
    assert open_tasks(trips, trip.id) == ["Task_after_parts"]
    assert complete(trips, trip.id, "Task_after_parts").state == "completed"


def test_multi_instance_sub_process__each_completed_instance_is_undone(
    trips: flowdesk.Engine,
) -> None:
    shipment = trips.start("parcels", {"parcels": ["p1", "p2", "p3"], "labels": [], "voided": 0})
    assert trips.instance(shipment.id).variables["labels"] == ["p1", "p2", "p3"]

    done = complete(trips, shipment.id, "Task_hand_over")

    assert done.state == "completed"
    assert done.variables["voided"] == 3


def test_completed_sub_process__a_user_task_handler_inside_holds_the_throw(
    trips: flowdesk.Engine,
) -> None:
    trips.deploy(DATA / "compensation_completed_sub_process.bpmn")
    case = trips.start("undo_after_sub")
    complete(trips, case.id, "Task_pay")

    assert open_tasks(trips, case.id) == ["Task_refund"]
    assert trips.instance(case.id).state == "running"
    assert complete(trips, case.id, "Task_refund").state == "completed"
    assert "Throw_undo_all" in completed_elements(trips, case.id)


class Refunds:
    """A payment service's refund call that fails until it is fixed."""

    def __init__(self) -> None:
        self.up = False
        self.refunded: list[object] = []

    def __call__(self, call: flowdesk.ServiceCall) -> dict[str, object]:
        if not self.up:
            raise ConnectionError("payment service unreachable")
        self.refunded.append(call.variables["paid"])
        return {"refunded": call.variables["paid"]}


def test_failing_handler__is_an_incident_and_retry_finishes_the_compensation(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    refunds = Refunds()
    registry = flowdesk.HandlerRegistry()
    registry.register_service("payments.Refund", refunds)
    engine = make_engine(handlers=registry)
    engine.deploy(DATA / "compensation_refund.bpmn")
    order = engine.start("paid_order", {"amount": 40})
    (task,) = engine.tasks(instance_id=order.id)

    failed = engine.complete(task.id, {})
    assert failed.state == "incident"
    assert "payment service unreachable" in (failed.incident or "")
    (incident,) = [e for e in engine.history(order.id) if e.type == "incident"]
    assert incident.element_id == "Service_refund"

    refunds.up = True
    retried = engine.retry(order.id)

    assert retried.state == "completed"
    assert retried.variables["refunded"] == 40
    assert refunds.refunded == [40]


# -- what flowdesk cannot run is refused at deploy -----------------------------------------------


@pytest.mark.parametrize(
    ("file", "element_id", "reason"),
    [
        ("compensation_event_subprocess.bpmn", "Start_undo_sub", "only supported for embedded"),
        ("compensation_event_subprocess_and_boundary.bpmn", "Start_undo_sub", "same scope"),
        ("compensation_event_subprocess_twice.bpmn", "Start_undo_again", "multiple event sub"),
        ("compensation_bad_activity_ref.bpmn", "Throw_nowhere", "activityRef"),
        ("compensation_handler_in_other_scope.bpmn", "Undo_pay", "same process or sub-process"),
    ],
)
def test_deploy__refuses_compensation_flowdesk_cannot_run(
    engine: flowdesk.Engine, file: str, element_id: str, reason: str
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError, match=reason) as caught:
        engine.deploy(DATA / file)
    assert (caught.value.element_id, caught.value.file) == (element_id, str(DATA / file))
    assert caught.value.line is not None
    assert engine.definitions() == []
