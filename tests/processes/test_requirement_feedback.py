"""Requirement feedback and evaluation (需求反馈和评估, seed 001 四): both paths into
bpmn/requirement_feedback.bpmn, through the public API."""

from __future__ import annotations

from typing import Any

import pytest

import flowdesk
from flowdesk.processes import order_review, requirement_feedback

from .conftest import BPMN, do


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    for name in ("order_routing.dmn", "order_review.bpmn", "requirement_feedback.bpmn"):
        engine.deploy(BPMN / name)
    return engine


def feedback_and_evaluate(engine: flowdesk.Engine, instance_id: str) -> None:
    (task,) = engine.tasks(instance_id=instance_id)
    assert (task.element_id, task.candidate_groups) == ("Task_give_feedback", ("customer",))
    assert task.properties == {"customerContact": "survey"}
    do(
        engine,
        instance_id,
        "Task_give_feedback",
        "cathy",
        {
            "feedback_method": "satisfaction_survey",
            "feedback_satisfaction": 4,
            "requirements_met": "most",
            "feedback_text": "Line speed fine, MES link drops batches",
        },
    )
    (evaluate,) = engine.tasks(instance_id=instance_id)
    assert evaluate.candidate_groups == ("presales",)
    assert "MES link drops batches" in evaluate.documentation
    do(
        engine,
        instance_id,
        "Task_evaluate_requirements",
        "paula",
        {
            "evaluation_result": "partly",
            "problems_found": "MES interface requirement under-specified",
            "improvement_actions": "Specify interface retries in future requirement lists",
        },
    )


def test_rule_001_feedback_and_evaluation__reports_written_for_the_opportunity(
    deployed: flowdesk.Engine,
) -> None:
    instance = requirement_feedback.start(
        deployed,
        customer_id="C-1",
        customer_name="Huadong Coatings",
        opportunity_id="OPP-7",
        account_owner="sam",
    )
    assert instance.business_key == "OPP-7"
    feedback_and_evaluate(deployed, instance.id)

    assert deployed.instance(instance.id).state == "completed"
    documents = {d.name: d.content for d in deployed.documents(instance.id)}
    assert set(documents) == {
        "需求反馈报告 Feedback report — OPP-7",
        "需求评估报告 Evaluation report — OPP-7",
    }
    assert "4/5" in documents["需求反馈报告 Feedback report — OPP-7"]
    evaluation = documents["需求评估报告 Evaluation report — OPP-7"]
    assert "partly" in evaluation and "under-specified" in evaluation


def close_order(engine: flowdesk.Engine, opportunity_id: str | None) -> flowdesk.ProcessInstance:
    order = order_review.start(
        engine,
        order_no="SO-7",
        customer_id="C-1",
        customer_name="Huadong Coatings",
        amount=100_000,
        contract_signer="sally",
        order_type="stock",
        opportunity_id=opportunity_id,
        user="sam",
    )
    plan = {"plan_week": "W12", "planned_start": "2026-03-16", "planned_finish": "2026-03-20"}
    payment = {"payment_method": "cash", "payment_date": "2026-03-30", "payment_handler": "fiona"}
    visit = {"service_notes": "visited", "satisfaction": 5, "complaint_raised": False}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "Task_receive_order",
            "sam",
            {"product": "P", "quantity": 1, "delivery_date": "2026-04-01"},
        ),
        ("Task_leadership_approval", "lee", {"approval": "approve", "approval_comment": "ok"}),
        ("Task_plan_production", "pete", plan),
        ("Task_carry_out_production", "pete", {"batch_no": "B1", "produced_quantity": 1}),
        ("Task_production_feedback", "pete", {"production_feedback": "fulfilled"}),
        ("Task_deliver_order", "sam", {"delivered_on": "2026-03-25", "delivery_note_no": "DN1"}),
        ("Task_record_payment", "fiona", {**payment, "payment_amount": 100_000}),
        ("Task_after_sales_service", "sam", visit),
    ]
    for element_id, user, data in steps:
        do(engine, order.id, element_id, user, data)
    return engine.instance(order.id)


def test_rule_001_delivered_opportunity_order__starts_feedback_and_evaluation(
    deployed: flowdesk.Engine,
) -> None:
    order = close_order(deployed, "OPP-7")
    assert order.state == "completed"
    (feedback,) = deployed.instances(key="requirement_feedback")
    assert (feedback.variables["opportunity_id"], feedback.variables["order_no"]) == (
        "OPP-7",
        "SO-7",
    )
    feedback_and_evaluate(deployed, feedback.id)
    assert deployed.instance(feedback.id).state == "completed"


def test_order_without_opportunity__closes_without_a_feedback_round(
    deployed: flowdesk.Engine,
) -> None:
    order = close_order(deployed, None)
    assert order.state == "completed"
    assert deployed.instances(key="requirement_feedback") == []
