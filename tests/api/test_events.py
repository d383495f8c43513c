"""Messages, signals, terminate, link, conditional and inclusive flows, through the public API."""

from __future__ import annotations

import pytest
from conftest import DATA, complete, open_tasks

import flowdesk


@pytest.fixture
def shop(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "events_messages.bpmn")
    return engine


@pytest.fixture
def signals(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "events_signals.bpmn")
    return engine


@pytest.fixture
def flows(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "events_flow.bpmn")
    return engine


# -- messages -----------------------------------------------------------------------------------


def test_receive_task__correlate_delivers_the_message_and_moves_on(shop: flowdesk.Engine) -> None:
    waiting = shop.start("payment", business_key="P-1")
    assert open_tasks(shop, waiting.id) == []

    shop.correlate("payment_received", business_key="P-1", variables={"paid": 120})

    assert open_tasks(shop, waiting.id) == ["Task_ship"]
    assert shop.instance(waiting.id).variables == {"paid": 120}


def test_message_boundary__non_interrupting_keeps_the_task_interrupting_removes_it(
    shop: flowdesk.Engine,
) -> None:
    case = shop.start("support", business_key="C-1")

    shop.correlate("customer_question", business_key="C-1", variables={"question": "when?"})
    assert open_tasks(shop, case.id) == ["Task_answer", "Task_work"]

    shop.correlate("cancel_request", business_key="C-1")
    assert open_tasks(shop, case.id) == ["Task_answer", "Task_close_cancelled"]
    work = [t for t in shop.tasks(instance_id=case.id, state=None) if t.element_id == "Task_work"]
    assert work[0].state == "cancelled"


def test_message_event_subprocess__non_interrupting_runs_beside_the_main_flow(
    shop: flowdesk.Engine,
) -> None:
    order = shop.start("order_handling", {"notes": 0}, business_key="O-1")

    shop.correlate("order_note", business_key="O-1")
    shop.correlate("order_note", business_key="O-1")

    assert shop.instance(order.id).variables["notes"] == 2
    assert open_tasks(shop, order.id) == ["Task_pack"]


def test_message_event_subprocess__interrupting_cancels_the_main_flow(
    shop: flowdesk.Engine,
) -> None:
    order = shop.start("order_handling", {"notes": 0}, business_key="O-1")

    shop.correlate("abort_order", business_key="O-1")

    assert open_tasks(shop, order.id) == ["Task_refund"]
    with pytest.raises(flowdesk.CorrelationError, match="order_note"):
        shop.correlate("order_note", business_key="O-1")  # the aborted scope no longer listens
    finished = complete(shop, order.id, "Task_refund")
    assert finished.state == "completed"


def test_correlate__an_ended_instance_no_longer_waits(shop: flowdesk.Engine) -> None:
    order = shop.start("order_handling", {"notes": 0}, business_key="O-1")
    complete(shop, order.id, "Task_pack")
    with pytest.raises(flowdesk.CorrelationError) as caught:
        shop.correlate("order_note", business_key="O-1")
    assert caught.value.message_name == "order_note"


def test_thrown_message__reaches_the_waiting_instance_with_the_same_business_key(
    shop: flowdesk.Engine,
) -> None:
    other = shop.start("payment", business_key="SO-2")
    mine = shop.start("payment", business_key="SO-1")

    shop_run = shop.start("shop", {"amount": 99}, business_key="SO-1")

    assert shop_run.state == "completed"
    assert shop.instance(mine.id).variables == {"paid": 99}
    assert open_tasks(shop, mine.id) == ["Task_ship"]
    assert open_tasks(shop, other.id) == []
    thrown = [e.data for e in shop.history(shop_run.id) if e.type == "message_thrown"]
    assert thrown[0] == {
        "name": "payment_received",
        "variables": {"paid": 99},
        "delivered_to": mine.id,
    }


def test_send_task__starts_the_process_whose_start_event_waits_for_its_message(
    shop: flowdesk.Engine,
) -> None:
    shop.start("payment", business_key="SO-1")
    shop.start("shop", {"amount": 7}, business_key="SO-1")

    (shipping,) = shop.instances(key="shipping")
    assert (shipping.business_key, shipping.variables) == ("SO-1", {"amount": 7})
    assert open_tasks(shop, shipping.id) == ["Task_dispatch"]


def test_thrown_message__several_waiting_instances_fail_the_throwing_call(
    shop: flowdesk.Engine,
) -> None:
    shop.start("payment", business_key="A")
    shop.start("payment", business_key="B")
    with pytest.raises(flowdesk.CorrelationError, match="payment_received"):
        shop.start("shop", {"amount": 1}, business_key="C")
    assert shop.instances(key="shop") == []


# -- signals ------------------------------------------------------------------------------------


def test_signal__reaches_every_waiting_instance_and_starts_signal_start_processes(
    signals: flowdesk.Engine,
) -> None:
    sales = [signals.start("sale"), signals.start("sale")]
    warehouse = signals.start("warehouse")

    reached = signals.signal("product_recall", {"batch": "B-7"})

    assert reached == 4
    for sale in sales:
        assert open_tasks(signals, sale.id) == ["Task_return"]
    assert open_tasks(signals, warehouse.id) == ["Task_block_stock"]
    assert signals.instance(warehouse.id).variables == {"batch": "B-7"}
    (report,) = signals.instances(key="recall_report")
    assert open_tasks(signals, report.id) == ["Task_report"]


def test_signal__non_interrupting_event_subprocess_starts_beside_the_task(
    signals: flowdesk.Engine,
) -> None:
    sale = signals.start("sale")
    assert signals.signal("store_closing") == 1
    assert open_tasks(signals, sale.id) == ["Task_sell", "Task_tidy"]


def test_signal__nobody_waiting_reaches_no_one(signals: flowdesk.Engine) -> None:
    assert signals.signal("nobody_listens") == 0


def test_signal_throw_event__broadcasts_to_other_instances_with_its_input_parameters(
    signals: flowdesk.Engine,
) -> None:
    warehouse = signals.start("warehouse")
    check = signals.start("quality", {"batch": "B-9", "inspector": "dave"})

    done = complete(signals, check.id, "Task_inspect")

    assert done.state == "completed"
    # Only what the throw event's input parameters name travels, not the whole scope.
    assert signals.instance(warehouse.id).variables == {"batch": "B-9"}
    (event,) = [e for e in signals.history(check.id) if e.type == "signal_thrown"]
    assert event.data["reached"] == 2  # the warehouse, and a new recall report


# -- terminate, link, inclusive, transaction, conditional -----------------------------------------


def test_terminate_end_event__inside_a_subprocess_ends_only_the_subprocess(
    flows: flowdesk.Engine,
) -> None:
    instance = flows.start("inner_stop")

    after = complete(flows, instance.id, "Task_check_a")

    assert after.state == "running"
    assert open_tasks(flows, instance.id) == ["Task_after_checks"]
    assert complete(flows, instance.id, "Task_after_checks").state == "completed"


def test_link_events__continue_at_the_catch_event_of_the_same_name(flows: flowdesk.Engine) -> None:
    instance = flows.start("linked")
    assert open_tasks(flows, instance.id) == ["Task_page_two"]
    assert instance.variables == {"steps": ["first"]}


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ({"email": True, "sms": False}, ["Task_email"]),
        ({"email": True, "sms": True}, ["Task_email", "Task_sms"]),
        ({"email": False, "sms": False}, ["Task_post"]),
    ],
)
def test_inclusive_gateway__takes_every_true_flow_or_the_default_and_joins_them(
    flows: flowdesk.Engine, channels: dict[str, bool], expected: list[str]
) -> None:
    instance = flows.start("inclusive", channels)
    assert open_tasks(flows, instance.id) == expected
    for element_id in expected[:-1]:
        complete(flows, instance.id, element_id)
        assert "Task_notified" not in open_tasks(flows, instance.id)
    complete(flows, instance.id, expected[-1])
    assert open_tasks(flows, instance.id) == ["Task_notified"]


def test_transaction__cancel_end_event_is_caught_by_the_cancel_boundary(
    flows: flowdesk.Engine,
) -> None:
    failed = flows.start("booking")
    complete(flows, failed.id, "Task_book", {"available": False})
    assert open_tasks(flows, failed.id) == ["Task_apologise"]

    booked = flows.start("booking")
    complete(flows, booked.id, "Task_book", {"available": True})
    assert open_tasks(flows, booked.id) == ["Task_confirm_trip"]


def test_conditional_catch_event__fires_when_a_completed_task_makes_it_true(
    flows: flowdesk.Engine,
) -> None:
    case = flows.start("conditional", {"documents": 0, "withdrawn": False, "priority": "normal"})
    assert open_tasks(flows, case.id) == ["Task_collect"]

    complete(flows, case.id, "Task_collect", {"documents": 3})

    assert open_tasks(flows, case.id) == ["Task_archive", "Task_decide"]


def test_conditional_boundary_event__interrupts_its_task_when_the_condition_turns_true(
    flows: flowdesk.Engine,
) -> None:
    case = flows.start("conditional", {"documents": 3, "withdrawn": False, "priority": "normal"})
    assert open_tasks(flows, case.id) == ["Task_archive", "Task_collect"]

    complete(flows, case.id, "Task_archive", {"withdrawn": True})

    assert open_tasks(flows, case.id) == ["Task_close_withdrawn"]


def test_conditional_event_subprocess__starts_once_when_its_condition_becomes_true(
    flows: flowdesk.Engine,
) -> None:
    case = flows.start("conditional", {"documents": 3, "withdrawn": False, "priority": "normal"})
    complete(flows, case.id, "Task_archive", {"priority": "urgent"})
    assert open_tasks(flows, case.id) == ["Task_call_manager", "Task_collect"]

    complete(flows, case.id, "Task_call_manager")  # still urgent: it does not start again
    assert open_tasks(flows, case.id) == ["Task_collect"]


# -- what flowdesk cannot run is refused at deploy -----------------------------------------------


@pytest.mark.parametrize(
    ("file", "element_id", "reason"),
    [
        ("events_compensation.bpmn", "Boundary_undo_flight", "compensation"),
    ],
)
def test_deploy__rejects_what_flowdesk_cannot_run_naming_file_line_and_element(
    engine: flowdesk.Engine, file: str, element_id: str, reason: str
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError, match=reason) as caught:
        engine.deploy(DATA / file)
    assert (caught.value.element_id, caught.value.file) == (element_id, str(DATA / file))
    assert caught.value.line is not None
    assert "NotImplementedError" not in str(caught.value)
    assert engine.definitions() == []


# -- several start events, event sub-processes that outlive the main flow --------------------------


@pytest.fixture
def intake(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.handlers.register_service("changeLog", lambda call: {"changes": 1})
    engine.deploy(DATA / "events_start_choice.bpmn")
    return engine


def test_message_start__next_to_a_none_start_starts_at_the_message_with_its_variables(
    intake: flowdesk.Engine,
) -> None:
    order = intake.correlate("order_placed", business_key="O-1", variables={"amount": 70})

    assert order.variables["amount"] == 70
    assert open_tasks(intake, order.id) == ["Task_confirm"]
    by_hand = intake.start("order_intake")
    assert open_tasks(intake, by_hand.id) == ["Task_register"]


def test_event_subprocess__still_running_keeps_the_instance_when_the_main_flow_ends(
    intake: flowdesk.Engine,
) -> None:
    order = intake.start("order_intake", business_key="O-2")
    intake.correlate("order_changed", business_key="O-2")

    complete(intake, order.id, "Task_register")

    assert intake.instance(order.id).state == "running"
    assert open_tasks(intake, order.id) == ["Task_assess_change"]
    assert complete(intake, order.id, "Task_assess_change").state == "completed"
