"""Customer archive access (客户档案查阅): ask, approve, read while the access lasts.

Run it from anywhere: python examples/customer_archive_access.py
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flowdesk
from flowdesk.processes import customers
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[1] / "bpmn"


class Clock:
    """A clock the example moves forward, to show the access expiring."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        registry = flowdesk.HandlerRegistry()
        customers.register(registry)
        url = f"sqlite:///{Path(folder) / 'flowdesk.db'}"
        with flowdesk.Engine(
            url, groups=STAFF, clock=clock, handlers=registry, load_entry_points=False
        ) as engine:
            engine.deploy(BPMN / "customer_archive_access.bpmn")

            for customer_department, approver in (("sales", "sally"), ("market", "lee")):
                instance = customers.request_access(
                    engine,
                    requester="sam",
                    requester_department="sales",
                    customer_id=f"C-{customer_department}",
                    customer_name=f"Customer of {customer_department}",
                    customer_department=customer_department,
                    reason="prepare a renewal offer",
                )
                (task,) = engine.tasks(instance_id=instance.id)
                print(f"{task.name!r} offered to {task.candidate_groups}")
                print(f"  {task.documentation}")
                engine.claim(task.id, user=approver)
                done = engine.complete(
                    task.id, {"decision": "approve", "decision_reason": "fine"}, user=approver
                )
                print(f"  approved by {approver}; access until {done.variables['access_until']}")

            for days in (0, 8):
                clock.now += timedelta(days=days)
                for customer_id in ("C-sales", "C-market"):
                    allowed = customers.may_read(engine, "sam", customer_id)
                    print(f"day {days}: sam may read {customer_id}: {allowed}")


if __name__ == "__main__":
    main()
