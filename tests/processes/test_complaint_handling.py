"""Complaint handling (投诉处理): every path of bpmn/complaint_handling.bpmn, by the public API.

Seeds 000, 001, 003 and 004 require a complaint to be recorded, handled in time and fed into
demand management. sam (sales) owns the customer, quinn (quality) handles complaints, sally
(sales manager) follows up overdue ones.
"""

from __future__ import annotations

from typing import Any

import pytest

import flowdesk
from flowdesk.processes import complaint_handling, order_review

from .conftest import BPMN, do


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    for name in (
        "requirement_priority.dmn",
        "demand_confirmation.bpmn",
        "complaint_handling.bpmn",
        "order_routing.dmn",
        "order_review.bpmn",
    ):
        engine.deploy(BPMN / name)
    return engine


def open_tasks(engine: flowdesk.Engine, instance_id: str) -> set[str]:
    return {t.element_id for t in engine.tasks(instance_id=instance_id)}


def ends(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return [
        e.element_id
        for e in engine.history(instance_id)
        if e.type == "activity_completed" and e.data.get("kind") == "EndEvent"
    ]


def record(engine: flowdesk.Engine, instance_id: str) -> None:
    do(
        engine,
        instance_id,
        "Task_record_complaint",
        "sam",
        {"complaint_category": "product_quality", "complaint_description": "Resin gels early"},
    )


def handle(engine: flowdesk.Engine, instance_id: str, action: str = "replace lot 7") -> None:
    do(
        engine,
        instance_id,
        "Task_handle_complaint",
        "quinn",
        {"root_cause": "storage too warm", "corrective_action": action},
    )


def follow_up(engine: flowdesk.Engine, instance_id: str, *, satisfied: bool) -> None:
    do(
        engine,
        instance_id,
        "Task_follow_up_complaint",
        "sam",
        {"customer_satisfied": satisfied, "follow_up_notes": "called Ms. Wang"},
    )


def test_rule_complaint__recorded_handled_followed_up_and_fed_into_demand_management(
    deployed: flowdesk.Engine,
) -> None:
    complaint = complaint_handling.start(
        deployed,
        customer_id="C-100",
        customer_name="Huadong Coatings",
        complaint_text="The resin gels after two days",
        account_owner="sam",
        complaint_channel="fax",
        business_key="2026-001",
    )
    (recording,) = deployed.tasks(instance_id=complaint.id)
    assert recording.assignee == "sam"  # the account owner records it
    assert "The resin gels after two days" in recording.documentation
    record(deployed, complaint.id)
    variables = deployed.instance(complaint.id).variables
    assert variables["complaint_no"] == "CP-2026-001"
    assert variables["complaint_due"] == "2026-03-09T09:00:00+00:00"  # 5 working days
    (handling,) = deployed.tasks(instance_id=complaint.id)
    assert handling.candidate_groups == ("quality",)

    handle(deployed, complaint.id, "replace lot 7")
    follow_up(deployed, complaint.id, satisfied=False)  # not satisfied: handled again
    assert open_tasks(deployed, complaint.id) == {"Task_handle_complaint"}
    handle(deployed, complaint.id, "replace lot 7 and visit the plant")
    follow_up(deployed, complaint.id, satisfied=True)

    assert deployed.instance(complaint.id).state == "completed"
    assert ends(deployed, complaint.id) == ["End_complaint_closed"]
    (document,) = deployed.documents(complaint.id)
    assert document.name == "投诉处理记录 CP-2026-001"
    assert "visit the plant" in document.content and "called Ms. Wang" in document.content

    (demand,) = deployed.instances(key="demand_confirmation")
    assert demand.variables["complaint_requirement"] == "Resin gels early"
    assert demand.variables["opportunity_id"] == "CP-2026-001"
    (scope,) = deployed.tasks(instance_id=demand.id)
    assert "Fed in from a customer complaint" in scope.documentation


def test_rule_complaint__not_handled_by_the_deadline__escalates_to_the_sales_manager(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    complaint = complaint_handling.start(
        deployed,
        customer_id="C-100",
        customer_name="Huadong Coatings",
        complaint_text="Late delivery",
        account_owner="sam",
    )
    record(deployed, complaint.id)  # Monday 2 March, 09:00
    clock.advance(days=6, hours=23)  # Sunday: 4 working days
    deployed.run_due_jobs()
    assert open_tasks(deployed, complaint.id) == {"Task_handle_complaint"}
    clock.advance(hours=1)  # Monday 9 March, 09:00: 5 working days
    deployed.run_due_jobs()
    assert open_tasks(deployed, complaint.id) == {
        "Task_handle_complaint",
        "Task_escalate_complaint",
    }
    escalation = next(
        t
        for t in deployed.tasks(instance_id=complaint.id)
        if t.element_id != "Task_handle_complaint"
    )
    assert escalation.candidate_groups == ("sales_manager",)
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(escalation.id, user="sam")
    do(deployed, complaint.id, "Task_escalate_complaint", "sally", {"escalation_action": "called"})
    handle(deployed, complaint.id)
    follow_up(deployed, complaint.id, satisfied=True)
    assert ends(deployed, complaint.id) == ["End_escalation_handled", "End_complaint_closed"]


def test_rule_after_sales_complaint__starts_complaint_handling_with_the_order(
    deployed: flowdesk.Engine,
) -> None:
    order = order_review.start(
        deployed,
        order_no="SO-9",
        customer_id="C-100",
        customer_name="Huadong Coatings",
        amount=100_000,
        contract_signer="sally",
        order_type="stock",
        user="sam",
    )
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "Task_receive_order",
            "sam",
            {"product": "P-20", "quantity": 4, "delivery_date": "2026-04-01"},
        ),
        ("Task_leadership_approval", "lee", {"approval": "approve", "approval_comment": "ok"}),
        (
            "Task_plan_production",
            "pete",
            {"plan_week": "W12", "planned_start": "2026-03-16", "planned_finish": "2026-03-20"},
        ),
        ("Task_carry_out_production", "pete", {"batch_no": "B1", "produced_quantity": 4}),
        ("Task_production_feedback", "pete", {"production_feedback": "fulfilled"}),
        ("Task_deliver_order", "sam", {"delivered_on": "2026-03-25", "delivery_note_no": "DN1"}),
        (
            "Task_record_payment",
            "fiona",
            {
                "payment_method": "cash",
                "payment_date": "2026-03-30",
                "payment_amount": 100_000,
                "payment_handler": "fiona",
            },
        ),
        (
            "Task_after_sales_service",
            "sam",
            {
                "service_notes": "visited",
                "satisfaction": 1,
                "complaint_raised": True,
                "complaint_text": "Drums were dented",
            },
        ),
    ]
    for element_id, user, data in steps:
        do(deployed, order.id, element_id, user, data)

    assert deployed.instance(order.id).state == "completed"
    assert "End_complaint_raised" in ends(deployed, order.id)
    (complaint,) = deployed.instances(key="complaint_handling")
    assert complaint.business_key == "SO-9"
    assert complaint.variables["order_no"] == "SO-9"
    assert complaint.variables["complaint_text"] == "Drums were dented"
    assert complaint.variables["complaint_channel"] == "after_sales_visit"
    (recording,) = deployed.tasks(instance_id=complaint.id)
    assert recording.assignee == "sally"  # the contract signer owns the customer
