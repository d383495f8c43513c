"""The story `flowdesk demo` tells: the company's staff run the four shipped processes.

The simulated staff of `flowdesk.processes.roles` act by role through the public API only
(see `demo_director`). Each story starts an instance with its process module's `start` helper
and works through the open tasks, oldest first, filling each form with the story's answers
(the decisions that steer it) and plausible values for the rest. A `DemoClock` moves forward
as people work and when the story waits, so timers fall due without waiting days.

1. Presales: a customer is filed after the 3-working-day reminder fired, which opens its
   master record (a key customer: the sales manager names a second contact); demand
   confirmation runs as a called process. Then sam, the account owner, leaves the company
   mid-process: the customer's record and sam's open negotiation go to sally, the customer
   gets a contact change notice and sally the task of telling them, and every later task
   (the second negotiation round, the contract) goes to sally. A discount below the company
   minimum is approved by the market manager but rejected by finance (seed 003 A2.2: both
   must approve), so presales quotes again. The signed contract starts an order review by
   message, which goes through technical review to production; the delivery date passes
   before the goods are made (a late-delivery alert), the customer pays in two instalments
   and complains at the after-sales visit. The complaint is handled by quality, followed up
   and fed into a new demand confirmation.
2. Order review: a small stock order goes straight to leadership, which rejects it.
3. Consulting engagement: from first contact to the satisfaction survey, with a revised
   proposal, an adjusted design and a follow-up proposal that starts another engagement.
4. Customer archive access: the engine refuses a consultant the sales customer's documents;
   connie asks to read the archive, only the general manager may approve (another
   department's customer), and then the engine lets her read. A fax is logged in the
   archive's contact history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import flowdesk
from flowdesk._resources import shipped
from flowdesk.demo_director import DemoClock, Director
from flowdesk.processes import (
    consulting_engagement,
    customers,
    order_review,
    presales,
)
from flowdesk.processes.roles import STAFF
from flowdesk.text_tables import format_table

__all__ = ["DEMO_GROUPS", "DemoClock", "run_demo"]

DEMO_GROUPS: dict[str, tuple[str, ...]] = STAFF
"""The simulated users and their groups; pass it as the engine's `groups`."""

_PAYMENT = {
    "payment_terms": "30% with the order, 70% on acceptance",
    "market_price_note": "Competitors quote 760,000-820,000 CNY",
}


def run_demo(
    engine: flowdesk.Engine,
    echo: Callable[[str], None],
    *,
    clock: DemoClock | None = None,
) -> list[str]:
    """Deploy the shipped processes and play the four stories.

    Safe to run again on the same database: the deployment is idempotent and each run uses
    new business keys.

    Args:
        engine: An engine whose `groups` are `DEMO_GROUPS`, built with `clock` as its clock,
            with the shipped processes' handlers (`flowdesk.processes.register`) registered.
        echo: Prints one line of the story.
        clock: The engine's clock, moved forward as the story goes on. Without one, timers
            do not fall due and the stories that wait for them stop there.

    Returns:
        The ids of the instances the stories started, in story order.

    Raises:
        FlowdeskError: The engine refused a step.
        FileNotFoundError: The shipped BPMN files are missing from the installation.
    """
    folder = shipped("bpmn")
    definitions = engine.deploy(folder)
    deployed = ", ".join(f"{d.key} v{d.version}" for d in definitions if d.kind == "process")
    echo(f"Deployed {folder}: {deployed}")
    echo("Staff: " + ", ".join(f"{u} ({'/'.join(g)})" for u, g in STAFF.items()))
    run = len(engine.instances(key=presales.KEY)) + 1
    stories: list[tuple[str, str, Callable[[Director, int], None]]] = [
        (
            f"PS-{run:04d}",
            "presales with a rejected discount; the order is late and the customer complains",
            _presales,
        ),
        (f"SO-{run:04d}", "order review, a small stock order rejected", _rejected_order),
        (f"CE-{run:04d}", "a consulting engagement, start to finish", _consulting),
        (f"AR-{run:04d}", "reading another department's customer archive", _archive_access),
    ]
    instance_ids = []
    for number, (business_key, title, play) in enumerate(stories, start=1):
        echo("")
        echo(f"Story {number}: {title} ({business_key})")
        director = Director(engine, echo, clock, business_key)
        play(director, run)
        instance_ids.extend(director.family())

    echo("")
    echo("Summary:")
    echo(_summary(engine, instance_ids))
    return instance_ids


# -- the stories ----------------------------------------------------------------------------------


def _presales(director: Director, run: int) -> None:
    customer_id = f"C-{run:04d}"
    director.start(
        presales.start,
        customer_name="Huadong Coatings Co.",
        opportunity_title="Anti-corrosion coating line",
        account_owner="sam",
        user="sam",
    )
    director.wait(timedelta(days=3, hours=1), "the customer sheet is not filed in 3 working days")
    answers: dict[str, list[dict[str, Any]]] = {
        "Task_fill_customer_sheet": [{"customer_category": "key"}],
        "Task_file_customer": [{"customer_id": customer_id}],
        # The customer's master record: a key customer needs a second contact (1.6.3).
        "Task_name_second_contact": [{"second_contact": "paula"}],
        "Task_notify_customer_of_new_contact": [
            {"notified_by": "call", "customer_response": "Thanks, we will call sally"}
        ],
        "Task_organise_requirements": [
            {
                "requirement_list": "functional | Coating thickness control | 80-120 um\n"
                "performance | Line speed | at least 12 m/min\n"
                "interface | MES link | report batches to the MES"
            }
        ],
        "Task_assess_requirement": [
            {"importance": "high", "urgency": "high", "difficulty": "low"},
            {"importance": "medium", "urgency": "high", "difficulty": "medium"},
            {"importance": "low", "urgency": "medium", "difficulty": "high"},
        ],
        "Task_design_solution": [
            {
                "solution_summary": "Two-coat epoxy line with automatic thickness control",
                "special_requirements": True,
                "delivery_weeks": 10,
            }
        ],
        "Task_estimate_cost": [{"cost_estimate": 610_000, "risk_level": "medium"}],
        # The discount is the price in percent of the list price (88 = 八八折); the company
        # minimum is 85: below it is a discount change for the market manager and finance.
        "Task_prepare_quotation": [
            {"list_price": 900_000, "discount": 88, **_PAYMENT},
            {"list_price": 900_000, "discount": 82, **_PAYMENT},
            {"list_price": 900_000, "discount": 84, **_PAYMENT},
        ],
        "Task_approve_quotation_finance": [
            {"finance_approved": False, "finance_comment": "82% is below our margin"},
            {"finance_approved": True, "finance_comment": "84% accepted"},
        ],
        "Task_negotiate": [
            {"negotiation_outcome": "revise_price", "negotiation_notes": "Asks for 80%"},
            {"negotiation_outcome": "agreed", "negotiation_notes": "Agreed at 84%"},
        ],
        # The order review the signed contract starts.
        "Task_leadership_approval": [{"approval": "approve"}],
        "Task_consolidate_review": [{"review_result": "can_meet"}],
        "Task_plan_production": [{"plan_week": "2026-W51"}],
    }
    director.work(answers, until=lambda: _waiting_at(director, "Task_negotiate"))
    # 员工调离: sam leaves while the opportunity is in negotiation.
    handover = customers.depart(director.engine, "sam", "sally", user="lee")
    director.say(
        f"sam leaves the company: lee hands {', '.join(handover.customers)} and "
        f"{handover.tasks_moved} open task(s) to sally"
    )
    director.narrate()
    director.work(answers, until=lambda: _waiting_at(director, "Task_carry_out_production"))
    owner = customers.record(director.engine, customer_id)
    director.say(f"{customer_id}'s master record: owner {owner.owner if owner else '?'}")
    director.wait(timedelta(days=8), "production has not started when the delivery date passes")
    director.work(
        {
            "Task_carry_out_production": [{"batch_no": "B-1219", "produced_quantity": 2}],
            "Task_production_feedback": [{"production_feedback": "fulfilled"}],
            "Task_deliver_order": [{"delivery_note_no": "DN-1219"}],
            "Task_record_payment": [
                {
                    "payment_method": "acceptance_bill",
                    "payment_amount": 300_000,
                    "payment_handler": "fiona",
                },
                {
                    "payment_method": "bank_transfer",
                    "payment_amount": 456_000,
                    "payment_handler": "fiona",
                },
            ],
            "Task_after_sales_service": [
                {
                    "satisfaction": 2,
                    "complaint_raised": True,
                    "complaint_text": "The coating peels at the weld seams",
                }
            ],
            # The complaint handling the after-sales visit starts, and the demand
            # confirmation the closed complaint starts.
            "Task_record_complaint": [
                {
                    "complaint_category": "product_quality",
                    "complaint_description": "Coating peels at weld seams after 3 weeks",
                }
            ],
            "Task_handle_complaint": [
                {
                    "root_cause": "Seams were not blasted before coating",
                    "corrective_action": "Re-coat the seams on site; blast seams in the plan",
                }
            ],
            "Task_organise_requirements": [
                {"requirement_list": "performance | Seam adhesion | no peeling within 2 years"}
            ],
            "Task_assess_requirement": [
                {"importance": "high", "urgency": "high", "difficulty": "medium"}
            ],
        }
    )


def _waiting_at(director: Director, element_id: str) -> bool:
    """Whether one of the story's instances has the task `element_id` open."""
    try:
        director.open_task(element_id)
    except flowdesk.NotFound:
        return False
    return True


def _rejected_order(director: Director, run: int) -> None:
    director.start(
        order_review.start,
        order_no=director.business_key,
        customer_id=f"C-{run:04d}",
        customer_name="Huadong Coatings Co.",
        amount=80_000,
        contract_signer="sally",
        order_type="stock",
        stock_pickup=True,
        user="sam",
    )
    director.work(
        {
            "Task_receive_order": [{"product": "Primer P-20", "quantity": 40}],
            "Task_leadership_approval": [
                {"approval": "reject", "approval_comment": "Customer credit on hold"}
            ],
        }
    )


def _consulting(director: Director, run: int) -> None:
    director.start(
        consulting_engagement.start,
        customer_id=f"C-{run:04d}",
        customer_name="Huadong Coatings Co.",
        engagement_topic="Order-to-delivery process",
        contact_person="COO Li",
        user="connie",
    )
    first = director.instance_id
    director.work(
        {
            "Task_discuss_proposal": [
                {"proposal_decision": "change", "change_requests": "Shorter timeline"},
                {"proposal_decision": "accept"},
            ],
            "Task_write_proposal": [{"budget": 480_000}, {"budget": 450_000}],
            "Task_sign_contract": [{"contract_amount": 450_000}],
            "Task_initial_design": [{"design_topics": "Order entry, Scheduling"}],
            "Task_review_design": [
                {"design_decision": "adjust", "design_feedback": "Keep the ERP screens"},
                {"design_decision": "accept"},
            ],
            "Task_implementation_feedback": [
                {"support_decision": "feedback", "implementation_feedback": "Slow approvals"},
                {"support_decision": "close", "implementation_feedback": "All running"},
            ],
            "Task_propose_new_project": [
                {"follow_up_proposed": True, "follow_up_topic": "Procurement process"}
            ],
            "Task_satisfaction_survey": [{"satisfaction": 5}],
        },
        until=lambda: director.engine.instance(first).state != "running",
    )
    follow_up = [i for i in director.family() if i != first]
    for instance_id in follow_up:
        topic = director.engine.instance(instance_id).variables.get("engagement_topic")
        director.say(f"the follow-up engagement {instance_id[:8]} ({topic!r}) waits for its team")


def _archive_access(director: Director, run: int) -> None:
    customer_id = f"C-{run:04d}"
    engine = director.engine
    (opportunity,) = engine.instances(key=presales.KEY, business_key=f"PS-{run:04d}")
    try:
        shown = engine.documents(opportunity.id, user="connie")
        director.say(f"connie (consultant) opens the opportunity's {len(shown)} documents")
    except flowdesk.ReadNotAuthorized as refused:
        director.say(f"connie (consultant) opens the opportunity's documents: refused, {refused}")
    director.start(
        customers.request_access,
        requester="connie",
        requester_department="consultant",
        customer_id=customer_id,
        reason="Prepare a process-consulting offer for the customer",
    )
    director.work({"Task_general_manager_approval": [{"decision": "approve"}]})
    readable = customers.may_read(engine, "connie", customer_id)
    director.say(f"may connie read {customer_id}'s archive now? {'yes' if readable else 'no'}")
    shown = engine.documents(opportunity.id, user="connie")
    director.say(f"connie reads the opportunity's {len(shown)} documents")
    customers.log_contact(
        engine, customer_id, channel="fax", summary="Faxed the consulting offer", user="connie"
    )
    contacts = customers.contact_history(engine, customer_id)
    director.say(f"{customer_id}'s contact history holds {len(contacts)} contacts; the last three:")
    for contact in contacts[-3:]:
        when = contact.at.strftime("%d %b")
        director.say(f"{when} {contact.user} by {contact.channel}: {contact.step}", indent=4)


def _summary(engine: flowdesk.Engine, instance_ids: Sequence[str]) -> str:
    rows = []
    for instance_id in instance_ids:
        instance = engine.instance(instance_id)
        ends = [
            e
            for e in engine.history(instance_id)
            if e.type == "activity_completed" and e.data.get("kind") == "EndEvent"
        ]
        rows.append(
            [
                instance.key,
                instance.business_key,
                ends[-1].data.get("name") if ends and instance.state != "running" else None,
                instance.state,
                len(engine.documents(instance_id)),
                instance.id,
            ]
        )
    return format_table(["PROCESS", "BUSINESS KEY", "OUTCOME", "STATE", "DOCS", "INSTANCE"], rows)
