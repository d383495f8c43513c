"""Order review (订单评审): a large order goes through technical review, approval and production.

Run from anywhere: `python examples/order_review.py`. The database is a SQLite file in a
temporary folder; the simulated staff of `flowdesk.processes.roles` act by role.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import flowdesk
import flowdesk.processes
from flowdesk.processes import order_review
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[1] / "bpmn"


def act(engine: flowdesk.Engine, instance_id: str, user: str, data: dict[str, object]) -> None:
    """Claim and complete, as `user`, the open task of the instance that `user` may take."""
    groups = set(STAFF[user])
    for task in engine.tasks(instance_id=instance_id):
        if task.assignee == user or groups & set(task.candidate_groups):
            print(f"  {user:6} {task.name}")
            engine.claim(task.id, user=user)
            engine.complete(task.id, data, user=user)
            return
    raise LookupError(f"no task for {user}")


def main() -> None:
    registry = flowdesk.HandlerRegistry()
    flowdesk.processes.register(registry)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'orders.db'}"
        with flowdesk.Engine(url, groups=STAFF, handlers=registry) as engine:
            engine.deploy(BPMN / "order_routing.dmn")  # the decision before the process
            engine.deploy(BPMN / "order_review.bpmn")
            order = order_review.start(
                engine,
                order_no="SO-2026-042",
                customer_id="C-042",
                customer_name="Huadong Coatings",
                amount=800_000,  # above the threshold of the order_routing table
                contract_signer="sally",
                user="sam",
            )
            details = {"product": "Epoxy resin E-51", "quantity": 120}
            act(engine, order.id, "sam", {**details, "delivery_date": "2026-05-15"})
            print("route:", engine.instance(order.id).variables["route"])
            for user, suffix in [("pete", "production"), ("tina", "production_tech"),
                                 ("rita", "research"), ("sam", "sales"), ("quinn", "quality"),
                                 ("sally", "signer")]:  # fmt: skip
                act(engine, order.id, user, {f"opinion_{suffix}": "can_meet"})
            act(engine, order.id, "olga", {"review_result": "can_meet", "review_summary": "ok"})
            act(engine, order.id, "lee", {"approval": "approve", "approval_comment": "go"})
            plan = {"planned_start": "2026-03-16", "planned_finish": "2026-03-20"}
            act(engine, order.id, "pete", {"plan_week": "2026-W12", **plan})
            act(engine, order.id, "pete", {"batch_no": "B-0316", "produced_quantity": 120})
            act(engine, order.id, "pete", {"production_feedback": "fulfilled"})
            act(engine, order.id, "sam", {"delivered_on": "2026-05-12", "delivery_note_no": "D1"})
            payment = {"payment_method": "bank_transfer", "payment_date": "2026-06-01"}
            act(engine, order.id, "fiona",
                {**payment, "payment_amount": 800_000, "payment_handler": "fiona"})  # fmt: skip
            visit = {"service_notes": "runs well", "satisfaction": 5, "complaint_raised": False}
            act(engine, order.id, "sam", visit)
            print("state:", engine.instance(order.id).state)
            for document in engine.documents(order.id):
                print(f"\n--- {document.name} ({document.media_type})\n{document.content}")


if __name__ == "__main__":
    main()
