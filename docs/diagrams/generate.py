"""Regenerate the example diagrams of docs/diagrams.md from the shipped processes.

    python docs/diagrams/generate.py

Writes, next to this script:

- `order_review.svg`: the shipped order review process (`flowdesk diagram order_review`);
- `order_review_instance.svg`: an order in review: sales registered it, it was routed to
  technical review (800,000 CNY), and three of the six parallel reviews are done, so three wait;
- `incident_instance.svg`: a small process (tests/api/data/diagram_states.bpmn) waiting at a
  user task while its booking step failed for good (an incident).

Everything runs through the public API on an in-memory database with a fixed clock, so the
files come out the same each time; tests/api/test_diagrams.py checks that they are current.
"""

from __future__ import annotations

import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # this checkout's flowdesk, not another installed one

import flowdesk  # noqa: E402
import flowdesk.processes  # noqa: E402
from flowdesk.processes import order_review  # noqa: E402
from flowdesk.processes.roles import STAFF  # noqa: E402


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def generate() -> dict[str, str]:
    """The example diagrams, by file name."""
    clock = _Clock()
    registry = flowdesk.HandlerRegistry()
    flowdesk.processes.register(registry)
    with flowdesk.Engine(
        "sqlite://", groups=STAFF, clock=clock, handlers=registry, load_entry_points=False
    ) as engine:
        engine.deploy(REPO / "bpmn")
        files = {"order_review.svg": engine.diagram("order_review")}
        order = order_review.start(
            engine,
            order_no="SO-2026-001",
            customer_id="C-100",
            customer_name="Huadong Coatings",
            amount=800_000,
            contract_signer="sally",
            user="sam",
        )
        _complete(
            engine,
            order.id,
            "Task_receive_order",
            "sam",
            {
                "product": "Epoxy resin E-51",
                "quantity": 120,
                "delivery_date": "2026-05-15",
                "customer_contact": "Ms. Wang",
                "contact_phone": "021-5555-0101",
            },
        )
        for element_id, user, suffix in (
            ("Task_review_production", "pete", "production"),
            ("Task_review_research", "rita", "research"),
            ("Task_review_quality", "quinn", "quality"),
        ):
            _complete(
                engine,
                order.id,
                element_id,
                user,
                {f"opinion_{suffix}": "can_meet", f"comment_{suffix}": "fine"},
            )
        files["order_review_instance.svg"] = engine.diagram(order.id)
    files["incident_instance.svg"] = _incident_example(clock)
    return files


def _complete(
    engine: flowdesk.Engine, instance_id: str, element_id: str, user: str, data: dict[str, object]
) -> None:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.claim(task.id, user=user)
    engine.complete(task.id, data, user=user)


def _incident_example(clock: _Clock) -> str:
    def unreachable(call: flowdesk.ServiceCall) -> dict[str, object]:
        raise ConnectionError("booking service unreachable")

    registry = flowdesk.HandlerRegistry()
    registry.register_service("diagrams.Book", unreachable)
    with flowdesk.Engine(
        "sqlite://",
        groups={"alice": ["sales"]},
        clock=clock,
        handlers=registry,
        load_entry_points=False,
    ) as engine:
        engine.deploy(REPO / "tests" / "api" / "data" / "diagram_states.bpmn")
        instance = engine.start("diagram_states")
        (task,) = engine.tasks(instance_id=instance.id)
        engine.complete(task.id, {}, user="alice")
        while engine.instance(instance.id).state != "incident":  # the job's retries run out
            engine.run_due_jobs()
            clock.now += timedelta(minutes=20)
        return engine.diagram(instance.id)


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failing job logs; nothing to warn about here
        files = generate()
    for name, svg in files.items():
        (HERE / name).write_text(svg, encoding="utf-8")
        print(f"wrote {HERE / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
