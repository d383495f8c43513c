"""Order review (订单评审): every path of bpmn/order_review.bpmn, through the public API.

The staff of `roles.STAFF` act by role: sam (sales) receives orders, sally (sales) signed the
contracts and reviews as contract signer, pete / tina / rita / quinn review for production,
production technology, research and quality, olga (order center) consolidates, lee
(leadership) approves, chen (chief engineer) signs adjusted formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import flowdesk
from flowdesk.processes import order_review

BPMN = Path(__file__).parents[2] / "bpmn"

SIGNER = "sally"

REVIEWER_TASKS = {
    "Task_review_production": ("pete", "production"),
    "Task_review_production_tech": ("tina", "production_tech"),
    "Task_review_research": ("rita", "research"),
    "Task_review_sales": ("sam", "sales"),
    "Task_review_quality": ("quinn", "quality"),
    "Task_review_signer": (SIGNER, "signer"),
}
"""Review task -> (who completes it, suffix of its form fields)."""

ORDER = {
    "product": "Epoxy resin E-51",
    "quantity": 120,
    "delivery_date": "2026-05-15",
    "customer_contact": "Ms. Wang",
    "contact_phone": "021-5555-0101",
}


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(BPMN / "order_routing.dmn")
    engine.deploy(BPMN / "order_review.bpmn")
    return engine


class Order:
    """Drives one order-review instance: each step claims and completes as the right user."""

    def __init__(self, engine: flowdesk.Engine, instance: flowdesk.ProcessInstance) -> None:
        self.engine = engine
        self.id = instance.id

    @classmethod
    def received(cls, engine: flowdesk.Engine, **overrides: Any) -> Order:
        """An order sam registers at the none start event."""
        values: dict[str, Any] = {
            "order_no": "SO-2026-001",
            "customer_id": "C-100",
            "customer_name": "Huadong Coatings",
            "amount": 300_000,
            "contract_signer": SIGNER,
            "order_type": "custom",
            "special_requirements": False,
            "stock_pickup": False,
            **overrides,
        }
        return cls(engine, order_review.start(engine, **values, user="sam"))

    @property
    def instance(self) -> flowdesk.ProcessInstance:
        return self.engine.instance(self.id)

    @property
    def variables(self) -> dict[str, Any]:
        return self.instance.variables

    def open_tasks(self) -> dict[str, flowdesk.Task]:
        return {task.element_id: task for task in self.engine.tasks(instance_id=self.id)}

    def waiting_at(self) -> set[str]:
        return set(self.open_tasks())

    def complete(self, element_id: str, user: str, data: Mapping[str, Any]) -> None:
        task = self.open_tasks()[element_id]
        self.engine.claim(task.id, user=user)
        self.engine.complete(task.id, dict(data), user=user)
        assert self.instance.state != "incident", self.instance.incident

    # -- the steps --------------------------------------------------------------------------

    def receive(self) -> None:
        self.complete("Task_receive_order", "sam", ORDER)

    def review(self, **opinions: str) -> None:
        """All six reviewers answer; `opinions` overrides "can_meet" by field suffix."""
        assert self.waiting_at() == set(REVIEWER_TASKS)
        for element_id, (user, suffix) in REVIEWER_TASKS.items():
            opinion = opinions.get(suffix, "can_meet")
            self.complete(
                element_id,
                user,
                {f"opinion_{suffix}": opinion, f"comment_{suffix}": f"{suffix}: {opinion}"},
            )

    def consolidate(self, result: str) -> None:
        self.complete(
            "Task_consolidate_review",
            "olga",
            {
                "review_result": result,
                "review_summary": f"order center: {result}",
                "material_plan": "resin from stock lot 7",
            },
        )

    def approve(self, approval: str = "approve", comment: str = "agreed") -> None:
        self.complete(
            "Task_leadership_approval", "lee", {"approval": approval, "approval_comment": comment}
        )

    def agree_terms(self, *, accepted: bool) -> None:
        """The plant agrees the handling with the customer, then sales asks leadership."""
        self.complete(
            "Task_agree_adjusted_terms",
            "pete",
            {
                "adjusted_terms": "viscosity 11000-14000 mPa·s instead of 12000",
                "customer_accepts": accepted,
                "negotiation_notes": "meeting at the customer's plant",
            },
        )
        self.complete(
            "Task_submit_for_signature", "sam", {"signature_request": "please sign the terms"}
        )

    def sign_return(self, instruction: str = "return the order") -> None:
        self.complete("Task_sign_return", "lee", {"return_instruction": instruction})

    def prepare(self) -> None:
        """Quality, purchasing and supply prepare the special order (3.2.4)."""
        assert self.waiting_at() == {
            "Task_quality_plan",
            "Task_purchase_materials",
            "Task_arrange_supply",
        }
        self.complete("Task_quality_plan", "quinn", {"inspection_standard": "GB/T 13657"})
        self.complete("Task_purchase_materials", "percy", {"purchase_order_no": "PO-88"})
        self.complete("Task_arrange_supply", "sue", {"supply_arranged_for": "2026-03-12"})

    def adjust(self) -> None:
        assert self.waiting_at() == {
            "Task_adjust_process",
            "Task_adjust_formula",
            "Task_adjust_production",
        }
        self.complete("Task_adjust_process", "tina", {"process_adjustment": "longer curing"})
        self.complete("Task_adjust_formula", "rita", {"formula_adjustment": "diluent +2%"})
        self.complete("Task_adjust_production", "pete", {"production_adjustment": "line 2"})

    def chief_engineer(self, decision: str, *, trial: bool) -> None:
        self.complete(
            "Task_chief_engineer_approval",
            "chen",
            {
                "chief_engineer_decision": decision,
                "trial_production_needed": trial,
                "chief_engineer_comment": f"chief engineer: {decision}",
            },
        )

    def trials(self, failing: str | None = None) -> None:
        """Run the three trials in turn; `failing` ("small", "final", "industrial") fails."""
        for key in ("small", "final", "industrial"):
            passed = key != failing
            self.complete(
                f"Task_{key}_trial",
                "rita",
                {
                    f"{key}_trial_result": f"{key} trial {'passed' if passed else 'failed'}",
                    f"{key}_trial_passed": passed,
                },
            )
            if not passed:
                return

    def plan(self) -> None:
        self.complete(
            "Task_plan_production",
            "pete",
            {
                "plan_week": "2026-W12",
                "planned_start": "2026-03-16",
                "planned_finish": "2026-03-20",
            },
        )

    def produce(
        self, feedback: str = "fulfilled", reason: str = "", *, deliver: bool = True
    ) -> None:
        self.complete(
            "Task_carry_out_production", "pete", {"batch_no": "B-0316", "produced_quantity": 80}
        )
        self.complete(
            "Task_production_feedback",
            "pete",
            {"production_feedback": feedback, "feedback_comment": reason},
        )
        if feedback == "fulfilled" and deliver:
            self.deliver()

    def deliver(self, on: str = "2026-03-23") -> None:
        self.complete(
            "Task_deliver_order", "sam", {"delivered_on": on, "delivery_note_no": "DN-0323"}
        )

    def pay(self, amount: int, method: str = "bank_transfer") -> None:
        self.complete(
            "Task_record_payment",
            "fiona",
            {
                "payment_method": method,
                "payment_date": "2026-04-01",
                "payment_amount": amount,
                "payment_handler": "fiona",
                "payment_account": "ICBC 6222-0001",
            },
        )

    def after_sales(self, complaint: str = "") -> None:
        self.complete(
            "Task_after_sales_service",
            "sam",
            {
                "service_notes": "visited the plant, resin runs well",
                "satisfaction": 2 if complaint else 5,
                "complaint_raised": bool(complaint),
                "complaint_text": complaint,
            },
        )

    def close(self) -> None:
        """After delivery: paid in full at once, an after-sales visit without complaint."""
        self.pay(int(self.variables["amount"]))
        self.after_sales()

    def return_order(self, reason: str) -> None:
        self.complete(
            "Task_return_order", "sam", {"return_reason": reason, "returned_on": "2026-03-05"}
        )

    # -- what happened ----------------------------------------------------------------------

    def end_events(self) -> set[str]:
        return {
            event.element_id
            for event in self.engine.history(self.id)
            if event.type == "activity_completed" and event.data.get("kind") == "EndEvent"
        }

    def document_names(self) -> list[str]:
        return [document.name for document in self.engine.documents(self.id)]

    def document(self, name: str) -> str:
        (content,) = [d.content for d in self.engine.documents(self.id) if d.name == name]
        return content

    def gateway_choices(self, gateway_id: str) -> list[list[str]]:
        return [
            event.data["next"]
            for event in self.engine.history(self.id)
            if event.type == "activity_completed" and event.element_id == gateway_id
        ]


def assert_ended(order: Order, end_event: str) -> None:
    assert order.instance.state == "completed"
    top_level_ends = {"End_order_fulfilled", "End_order_rejected", "End_order_returned"}
    assert order.end_events() & top_level_ends == {end_event}
    assert order.engine.tasks(instance_id=order.id) == []


# -- the route decision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "stock_pickup", "amount", "special_requirements", "route"),
    [
        ("stock", True, 2_000_000, True, "leadership_only"),  # 库存直接提货
        ("stock", False, 499_999, False, "leadership_only"),  # under the threshold, no special
        ("stock", False, 10_000, False, "leadership_only"),
        ("stock", False, 500_000, False, "technical_review"),  # at the threshold
        ("stock", False, 10_000, True, "technical_review"),  # special requirements
        ("custom", False, 499_999, False, "technical_review"),  # C1.2: custom: always reviewed
        ("custom", False, 10_000, False, "technical_review"),
        ("custom", False, 10_000, True, "technical_review"),  # special requirements
        ("custom", True, 10_000, True, "technical_review"),  # a custom order is not in stock
    ],
)
def test_routing_decision__threshold_special_requirements_and_stock_pickup(
    deployed: flowdesk.Engine,
    order_type: str,
    stock_pickup: bool,
    amount: int,
    special_requirements: bool,
    route: str,
) -> None:
    result = deployed.evaluate_decision(
        "order_routing",
        {
            "order_type": order_type,
            "stock_pickup": stock_pickup,
            "amount": amount,
            "special_requirements": special_requirements,
        },
    )
    assert result == {"route": route}


# -- general orders -----------------------------------------------------------------------------


def test_rule_003_C1_2_small_custom_order__is_always_reviewed(deployed: flowdesk.Engine) -> None:
    order = Order.received(deployed, order_type="custom", amount=10_000)
    order.receive()
    assert order.variables["route"] == "technical_review"
    assert order.waiting_at() == set(REVIEWER_TASKS)


@pytest.mark.parametrize(
    ("amount", "route"),
    [
        (order_review.REVIEW_THRESHOLD_CNY - 1, "leadership_only"),
        (order_review.REVIEW_THRESHOLD_CNY, "technical_review"),
    ],
)
def test_rule_003_3_1_4_review_threshold__is_the_company_setting(
    deployed: flowdesk.Engine, amount: int, route: str
) -> None:
    """The regulation leaves the amount blank (***万元); the company setting decides."""
    order = Order.received(deployed, order_type="stock", amount=amount)
    order.receive()
    assert order.variables["route"] == route


def test_small_standard_order__goes_to_leadership_without_review_and_is_produced(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, order_type="stock", amount=300_000, special_requirements=False)
    (receive,) = deployed.tasks(instance_id=order.id)
    assert (receive.element_id, receive.candidate_groups) == ("Task_receive_order", ("sales",))
    assert "SO-2026-001" in receive.documentation and "300000 CNY" in receive.documentation

    order.receive()
    assert order.variables["route"] == "leadership_only"
    assert order.document_names() == ["Order registration form SO-2026-001"]
    registration = order.document("Order registration form SO-2026-001")
    assert "订单接收登记单" in registration and "Epoxy resin E-51" in registration
    assert "300,000 CNY" in registration and "received by sales" in registration

    (approval,) = deployed.tasks(instance_id=order.id)
    assert (approval.element_id, approval.candidate_groups) == (
        "Task_leadership_approval",
        ("leadership",),
    )
    assert "No technical review needed" in approval.documentation
    order.approve(comment="standard order, go ahead")
    assert order.gateway_choices("Gateway_special_order") == [["Gateway_notification_in"]]
    assert order.document_names()[-1] == "订单下达通知书 SO-2026-001"
    notification = order.document("订单下达通知书 SO-2026-001")
    assert "订单通知书" in notification and "一般订单 general order" in notification

    (plan,) = deployed.tasks(instance_id=order.id)
    assert (plan.element_id, plan.candidate_groups) == ("Task_plan_production", ("production",))
    order.plan()
    assert order.waiting_at() == {"Task_carry_out_production"}
    order.produce("fulfilled", deliver=False)
    delivery = order.open_tasks()["Task_deliver_order"]
    assert delivery.candidate_groups == ("sales",)
    order.deliver()
    assert order.waiting_at() == {"Task_record_payment"}
    order.close()
    assert_ended(order, "End_order_fulfilled")
    assert "End_production_done" in order.end_events()


def test_rule_003_3_1_6_production_documents__release_notice_plan_tracking_and_feedback(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, order_type="stock", amount=300_000)
    order.receive()
    order.approve()
    order.plan()
    order.produce()
    assert order.document_names() == [
        "Order registration form SO-2026-001",
        "订单下达通知书 SO-2026-001",
        "生产计划 SO-2026-001 2026-W12",
        "生产跟踪表 SO-2026-001 B-0316",
        "生产反馈记录表 SO-2026-001 B-0316",
    ]
    plan = order.document("生产计划 SO-2026-001 2026-W12")
    assert "2026-03-16" in plan and "2026-05-15" in plan and "公司调度" in plan
    assert "80" in order.document("生产跟踪表 SO-2026-001 B-0316")
    assert "按订单要求完成" in order.document("生产反馈记录表 SO-2026-001 B-0316")


def test_change_order__on_an_order_without_review__gets_a_technical_review(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, order_type="stock", amount=100_000)
    order.receive()
    order.approve()
    order.plan()
    order.produce("change_order", reason="customer wants another colour")
    assert order.waiting_at() == set(REVIEWER_TASKS)
    order.review()
    order.consolidate("can_meet")
    approval = order.open_tasks()["Task_leadership_approval"]
    assert "Technical review round 1: can_meet" in approval.documentation
    order.approve()
    assert "技术评审 1 轮" in order.document("订单下达通知书 SO-2026-001 (change 1)")
    order.plan()
    order.produce()
    order.close()
    assert_ended(order, "End_order_fulfilled")


def test_stock_pickup__skips_technical_review_whatever_the_amount(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(
        deployed, order_type="stock", stock_pickup=True, amount=5_000_000, special_requirements=True
    )
    order.receive()
    assert order.variables["route"] == "leadership_only"
    assert order.waiting_at() == {"Task_leadership_approval"}


def test_contract_signed_message__starts_an_order_review_with_the_contract_data(
    deployed: flowdesk.Engine,
) -> None:
    """Presales' end event throws `contract_signed`; the order starts at the message start."""
    instance = deployed.correlate(
        "contract_signed",
        business_key="OPP-7",
        variables={
            "order_no": "SO-2026-007",
            "customer_id": "C-700",
            "customer_name": "Jiangnan Paints",
            "order_type": "custom",
            "amount": 800_000,
            "special_requirements": False,
            "stock_pickup": False,
            "contract_signer": SIGNER,
            "opportunity_id": "OPP-7",
        },
    )
    order = Order(deployed, instance)
    assert order.instance.business_key == "OPP-7"
    assert order.variables["customer_name"] == "Jiangnan Paints"
    assert "Start_contract_signed" in {
        event.element_id
        for event in deployed.history(order.id)
        if event.type == "activity_completed"
    }
    assert order.waiting_at() == {"Task_receive_order"}
    assert "from the contract signed for opportunity OPP-7" in (
        order.open_tasks()["Task_receive_order"].documentation
    )
    order.receive()
    assert order.variables["route"] == "technical_review"
    assert "signed contract, opportunity OPP-7" in order.document(
        "Order registration form SO-2026-007"
    )
    assert order.waiting_at() == set(REVIEWER_TASKS)


def test_change_order__loops_back_to_technical_review_twice(deployed: flowdesk.Engine) -> None:
    """The six parallel reviews, and production's change-order loop twice around."""
    order = Order.received(deployed, order_no="SO-2026-007", amount=800_000)
    order.receive()
    assert order.variables["route"] == "technical_review"

    # Six reviewers in parallel: five groups and the contract signer in person.
    tasks = order.open_tasks()
    assert set(tasks) == set(REVIEWER_TASKS)
    assert {
        element_id: tasks[element_id].candidate_groups
        for element_id in REVIEWER_TASKS
        if element_id != "Task_review_signer"
    } == {
        "Task_review_production": ("production",),
        "Task_review_production_tech": ("production_tech",),
        "Task_review_research": ("research",),
        "Task_review_sales": ("sales",),
        "Task_review_quality": ("quality",),
    }
    assert tasks["Task_review_signer"].assignee == SIGNER
    assert "Review round 1" in tasks["Task_review_production"].documentation

    for review_round in (1, 2, 3):
        order.review()
        assert order.variables["suggested_result"] == "can_meet"
        assert order.variables["review_round"] == review_round
        consolidate = order.open_tasks()["Task_consolidate_review"]
        assert consolidate.candidate_groups == ("order_center",)
        assert "suggested result: can_meet" in consolidate.documentation
        order.consolidate("can_meet")
        record = order.document(f"Order review record SO-2026-007 round {review_round}")
        assert "订单评审记录表" in record and "Contract signer (合同签订人)" in record
        order.approve()
        order.plan()
        if review_round < 3:
            # Production cannot meet the order: 申请变更订单, back to technical review.
            order.produce("change_order", reason=f"line down, change {review_round}")
            assert order.waiting_at() == set(REVIEWER_TASKS)
            assert len(order.variables["change_requests"]) == review_round
    order.produce("fulfilled")
    order.close()
    assert_ended(order, "End_order_fulfilled")

    assert [c["reason"] for c in order.variables["change_requests"]] == [
        "line down, change 1",
        "line down, change 2",
    ]
    assert [n for n in order.document_names() if not n.startswith("生产")] == [
        "Order registration form SO-2026-007",
        "Order review record SO-2026-007 round 1",
        "订单下达通知书 SO-2026-007",
        "Order review record SO-2026-007 round 2",
        "订单下达通知书 SO-2026-007 (change 1)",
        "Order review record SO-2026-007 round 3",
        "订单下达通知书 SO-2026-007 (change 2)",
    ]
    assert "line down, change 2" in order.document("订单下达通知书 SO-2026-007 (change 2)")
    assert "End_change_order_requested" in order.end_events()


def test_order_state_survives_a_new_engine_at_every_wait(
    deployed: flowdesk.Engine, new_engine: Callable[[], flowdesk.Engine]
) -> None:
    order = Order.received(deployed, amount=900_000)

    def reopen() -> None:
        order.engine = new_engine()

    for step in (
        order.receive,
        order.review,
        lambda: order.consolidate("can_meet"),
        order.approve,
        order.plan,
        lambda: order.produce(deliver=False),
        order.deliver,
        lambda: order.pay(400_000),
        lambda: order.pay(500_000),
        order.after_sales,
    ):
        reopen()
        step()
    assert_ended(order, "End_order_fulfilled")
    order.engine.close()


# -- special orders -----------------------------------------------------------------------------


def test_special_order__customer_accepts__coordination_with_trials_after_two_revisions(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, amount=200_000, special_requirements=True)
    order.receive()
    assert order.variables["route"] == "technical_review"
    order.review(research="deviation", production_tech="deviation")
    assert order.variables["suggested_result"] == "special_order"
    order.consolidate("special_order")
    assert "large technical deviation" in order.document("Order review record SO-2026-001 round 1")

    terms = order.open_tasks()["Task_agree_adjusted_terms"]
    assert terms.candidate_groups == ("production",)
    assert terms.properties == {"customerContact": "meeting"}
    order.agree_terms(accepted=True)
    order.approve()

    for _ in range(2):  # the chief engineer sends the adjustment back twice
        order.adjust()
        chief = order.open_tasks()["Task_chief_engineer_approval"]
        assert chief.candidate_groups == ("chief_engineer",)
        assert "diluent +2%" in chief.documentation
        order.chief_engineer("revise", trial=False)
    order.adjust()
    order.chief_engineer("approve", trial=True)

    small = order.open_tasks()["Task_small_trial"]
    assert small.candidate_groups == ("research",)
    order.trials()
    order.prepare()
    assert order.gateway_choices("Gateway_chief_engineer_decision") == [
        ["Gateway_adjust_in"],
        ["Gateway_adjust_in"],
        ["Gateway_trial_needed"],
    ]
    notification = order.document("订单下达通知书 SO-2026-001")
    assert "特殊订单 special order" in notification
    assert "industrial trial passed" in notification and "longer curing" in notification
    assert "PO-88" in notification and "GB/T 13657" in notification

    order.plan()
    order.produce()
    order.close()
    assert_ended(order, "End_order_fulfilled")
    assert "End_coordination" in order.end_events()


def test_special_order__structure_change_only__goes_straight_to_order_notification(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(production="deviation")
    order.consolidate("special_order")
    order.agree_terms(accepted=True)
    order.approve()
    order.adjust()
    order.chief_engineer("approve", trial=False)
    order.prepare()
    assert order.waiting_at() == {"Task_plan_production"}
    assert order.gateway_choices("Gateway_trial_needed") == [["Gateway_coordination_done"]]
    assert "structure change only" in order.document("订单下达通知书 SO-2026-001")


def test_special_order__customer_declines_adjusted_terms__order_returned(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(quality="deviation")
    order.consolidate("special_order")
    order.agree_terms(accepted=False)
    assert order.waiting_at() == {"Task_sign_return"}  # leadership signs before the return
    order.sign_return("customer declined: return it")

    ret = order.open_tasks()["Task_return_order"]
    assert ret.candidate_groups == ("sales",)
    assert ret.properties == {"customerContact": "call"}
    assert "did not accept the adjusted terms" in ret.documentation
    order.return_order("customer rejects the viscosity range")
    assert_ended(order, "End_order_returned")
    record = order.document("Order return record SO-2026-001")
    assert "退单记录" in record and "customer rejects the viscosity range" in record
    assert "协商不成" in record


# -- returned and rejected orders ---------------------------------------------------------------


def test_rule_003_3_1_3_cannot_meet__leadership_signs_before_the_order_is_returned(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, amount=2_000_000)
    order.receive()
    order.review(production="cannot_meet", research="deviation")
    assert order.variables["suggested_result"] == "cannot_meet"
    order.consolidate("cannot_meet")
    sign = order.open_tasks()["Task_sign_return"]
    assert order.waiting_at() == {"Task_sign_return"}
    assert sign.candidate_groups == ("leadership",)
    assert "cannot be met" in sign.documentation
    with pytest.raises(flowdesk.FormValidationError):
        deployed.complete(sign.id, {}, user="lee")  # the handling opinion is required
    order.sign_return("capacity booked: return it")
    assert order.waiting_at() == {"Task_return_order"}
    assert "capacity booked: return it" in order.open_tasks()["Task_return_order"].documentation
    order.return_order("capacity fully booked until Q3")
    assert_ended(order, "End_order_returned")
    assert order.document_names() == [
        "Order registration form SO-2026-001",
        "Order review record SO-2026-001 round 1",
        "Order return record SO-2026-001",
    ]
    assert "不能满足 cannot meet" in order.document("Order return record SO-2026-001")
    assert "capacity booked: return it" in order.document("Order return record SO-2026-001")


def test_leadership_rejects__order_rejected_with_the_reason(deployed: flowdesk.Engine) -> None:
    order = Order.received(deployed, amount=1_000_000)
    order.receive()
    order.review()
    order.consolidate("can_meet")
    approval = order.open_tasks()["Task_leadership_approval"]
    assert "Technical review round 1: can_meet" in approval.documentation
    with pytest.raises(flowdesk.FormValidationError) as refused:
        deployed.complete(approval.id, {"approval": "reject"}, user="lee")
    assert "approval_comment" in refused.value.errors  # the reason is required

    order.approve("reject", comment="customer credit limit exceeded")
    assert_ended(order, "End_order_rejected")
    assert order.variables["approval_comment"] == "customer credit limit exceeded"
    assert order.document_names() == [
        "Order registration form SO-2026-001",
        "Order review record SO-2026-001 round 1",
    ]


# -- who may act --------------------------------------------------------------------------------


def test_tasks_refuse_users_of_the_wrong_role(deployed: flowdesk.Engine) -> None:
    order = Order.received(deployed, amount=900_000)
    receive = order.open_tasks()["Task_receive_order"]
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(receive.id, user="pete")  # production, not sales
    order.receive()

    tasks = order.open_tasks()
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(
            tasks["Task_review_quality"].id, {"opinion_quality": "can_meet"}, user="rita"
        )
    with pytest.raises(flowdesk.NotAuthorized):  # only the contract signer reviews as signer
        deployed.complete(
            tasks["Task_review_signer"].id, {"opinion_signer": "can_meet"}, user="sam"
        )
    order.review()
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(order.open_tasks()["Task_consolidate_review"].id, user="lee")


def test_start_helper__refuses_an_unknown_order_type(deployed: flowdesk.Engine) -> None:
    with pytest.raises(ValueError, match="order_type"):
        Order.received(deployed, order_type="rush")


# -- the controls of seed 003 §3 ----------------------------------------------------------------


def completed_order(order: Order) -> list[str]:
    """The user tasks of the order, in the order they were completed."""
    return [
        event.element_id
        for event in order.engine.history(order.id)
        if event.type == "task_completed"
    ]


def test_rule_003_3_1_2_special_order__plant_agrees_terms_then_sales_asks_leadership_to_sign(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(research="deviation")
    order.consolidate("special_order")
    assert order.waiting_at() == {"Task_agree_adjusted_terms"}  # not leadership first
    order.agree_terms(accepted=True)
    approval = order.open_tasks()["Task_leadership_approval"]
    assert "viscosity 11000-14000" in approval.documentation
    assert "please sign the terms" in approval.documentation
    order.approve()
    assert order.waiting_at() == {
        "Task_adjust_process",
        "Task_adjust_formula",
        "Task_adjust_production",
    }
    done = completed_order(order)
    assert done.index("Task_agree_adjusted_terms") < done.index("Task_submit_for_signature")
    assert done.index("Task_submit_for_signature") < done.index("Task_leadership_approval")


def test_rule_003_3_2_2_chief_engineer_rejects__leadership_signs_the_return(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(production_tech="deviation")
    order.consolidate("special_order")
    order.agree_terms(accepted=True)
    order.approve()
    order.adjust()
    order.chief_engineer("reject", trial=False)

    assert order.waiting_at() == {"Task_sign_return"}
    assert "chief engineer did not sign" in order.open_tasks()["Task_sign_return"].documentation
    order.sign_return("formula not feasible: return")
    order.return_order("the formula cannot reach the viscosity")
    assert_ended(order, "End_order_returned")
    assert "End_coordination_failed" in order.end_events()
    record = order.document("Order return record SO-2026-001")
    assert "总工不予签批" in record and "chief engineer: reject" in record


@pytest.mark.parametrize("failing", ["small", "final", "industrial"])
def test_rule_003_3_2_3_failed_trial__goes_back_to_adjustment_and_the_chief_engineer(
    deployed: flowdesk.Engine, failing: str
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(research="deviation")
    order.consolidate("special_order")
    order.agree_terms(accepted=True)
    order.approve()
    order.adjust()
    order.chief_engineer("approve", trial=True)
    order.trials(failing=failing)

    # 3.2.1: formula and process are adjusted again; 3.2.2: the chief engineer signs again
    order.adjust()
    assert "Task_chief_engineer_approval" in order.waiting_at()
    order.chief_engineer("approve", trial=True)
    order.trials()
    order.prepare()
    assert order.waiting_at() == {"Task_plan_production"}
    (failure,) = order.variables["trial_failures"]
    assert failure["trial"] == failing and failure["result"] == f"{failing} trial failed"
    assert f"{failing} (" in order.document("订单下达通知书 SO-2026-001")


def test_rule_003_3_2_4_quality_purchasing_and_supply__prepare_a_special_order(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, special_requirements=True)
    order.receive()
    order.review(research="deviation")
    order.consolidate("special_order")
    order.agree_terms(accepted=True)
    order.approve()
    order.adjust()
    order.chief_engineer("approve", trial=False)
    tasks = order.open_tasks()
    assert {element_id: tasks[element_id].candidate_groups for element_id in tasks} == {
        "Task_quality_plan": ("quality",),
        "Task_purchase_materials": ("purchasing",),
        "Task_arrange_supply": ("supply",),
    }
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(tasks["Task_purchase_materials"].id, user="sue")  # supply, not purchasing
    order.prepare()
    assert order.waiting_at() == {"Task_plan_production"}


# -- after signing: delivery date, payment collection, after-sales ------------------------------


def test_delivery_date_passed_undelivered__alerts_sales_and_the_order_center(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    order = Order.received(deployed, order_type="stock", amount=300_000)  # Monday 2 March
    order.complete("Task_receive_order", "sam", {**ORDER, "delivery_date": "2026-03-10"})
    order.approve()
    order.plan()
    assert order.variables["delivery_due"] == "2026-03-11T00:00:00+00:00"

    clock.advance(days=8, hours=14)  # 10 March, 23:00: due today, not late yet
    deployed.run_due_jobs()
    assert "notifications" not in order.variables

    clock.advance(hours=1)  # 11 March, 00:00: the delivery date has passed
    deployed.run_due_jobs()
    (alert,) = order.variables["notifications"]
    assert alert["kind"] == "late_delivery" and alert["to"] == [SIGNER, "order_center"]
    assert "2026-03-10" in alert["text"]
    assert order.variables["delivery_late"] is True
    assert order.waiting_at() == {"Task_carry_out_production"}  # production goes on
    assert "End_late_delivery_alerted" in order.end_events()

    order.produce()
    order.close()
    assert_ended(order, "End_order_fulfilled")


def test_delivered_on_time__no_alert_and_no_timer_left(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    order = Order.received(deployed, order_type="stock", amount=300_000)
    order.receive()  # due 15 May
    order.approve()
    order.plan()
    assert len(deployed.jobs(instance_id=order.id)) == 1  # the delivery-date timer
    order.produce()
    assert deployed.jobs(instance_id=order.id) == []
    clock.advance(days=90)
    deployed.run_due_jobs()
    assert "notifications" not in order.variables


def test_payment_collection__records_method_date_amount_until_paid_in_full(
    deployed: flowdesk.Engine,
) -> None:
    order = Order.received(deployed, order_type="stock", amount=300_000)
    order.receive()
    order.approve()
    order.plan()
    order.produce()
    payment = order.open_tasks()["Task_record_payment"]
    assert payment.candidate_groups == ("finance",)
    order.pay(100_000, method="acceptance_bill")
    assert order.variables["amount_outstanding"] == 200_000
    assert "200000 CNY outstanding" in order.open_tasks()["Task_record_payment"].documentation
    order.pay(200_000)
    assert [(p["method"], p["amount"], p["date"]) for p in order.variables["payments"]] == [
        ("acceptance_bill", 100_000, "2026-04-01"),
        ("bank_transfer", 200_000, "2026-04-01"),
    ]
    assert order.variables["amount_paid"] == 300_000
    visit = order.open_tasks()["Task_after_sales_service"]
    assert visit.candidate_groups == ("sales",)
    assert visit.properties == {"customerContact": "visit"}
    order.after_sales()
    assert_ended(order, "End_order_fulfilled")
