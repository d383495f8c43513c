"""Drive a consulting engagement (管理咨询) from the customer's request to a signed contract.

Run from anywhere: `python examples/consulting_engagement.py`. The database is a SQLite file
in a temporary folder; the users are the simulated staff of `flowdesk.processes.roles`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import flowdesk
import flowdesk.processes
from flowdesk.processes import consulting_engagement
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[1] / "bpmn" / "consulting_engagement.bpmn"


def complete(engine: flowdesk.Engine, instance_id: str, user: str, **data: Any) -> None:
    """Claim the instance's one open task as `user` and complete it with `data`."""
    (task,) = engine.tasks(instance_id=instance_id)
    print(f"{user:>7}: {task.name} [{', '.join(task.candidate_groups)}]")
    engine.claim(task.id, user=user)
    engine.complete(task.id, data, user=user)


def main() -> None:
    registry = flowdesk.HandlerRegistry()
    flowdesk.processes.register(registry)  # what the `flowdesk.handlers` entry point does
    with tempfile.TemporaryDirectory() as folder:
        engine = flowdesk.Engine(
            f"sqlite:///{folder}/consulting.db",
            groups=STAFF,
            handlers=registry,
            load_entry_points=False,
        )
        engine.deploy(BPMN)
        instance = consulting_engagement.start(
            engine,
            customer_id="C-ACME",
            customer_name="Acme Machinery",
            engagement_topic="Order-to-delivery process",
            contact_person="COO Li",
            user="connie",
        )
        run = instance.id
        complete(engine, run, "connie", customer_needs="Faster orders", next_meeting="Mon 10:00")
        complete(engine, run, "connie", customer_goals="Halve the order lead time")
        complete(engine, run, "connie", situation_analysis="Silos", project_framework="3 waves")
        complete(engine, run, "connie", site_visit_date="2026-03-04", site_findings="Paper")
        complete(engine, run, "connie", project_goals="20 -> 10 days", project_framework="3 waves")
        proposal = {"proposal_content": "Redesign", "execution_plan": "Joint working group"}
        complete(engine, run, "connie", **proposal, timeline="16 weeks", budget=480000)
        complete(engine, run, "cathy", proposal_decision="change", change_requests="Cheaper")
        complete(engine, run, "connie", **proposal, timeline="14 weeks", budget=420000)
        complete(engine, run, "cathy", proposal_decision="accept")
        complete(
            engine, run, "carl", contract_no="CC-17", contract_amount=420000, signed_on="2026-03-10"
        )

        print("\nnext:", [t.name for t in engine.tasks(instance_id=run)])
        documents = engine.documents(run)
        print("documents:", [d.name for d in documents])
        print()
        print(documents[-1].content)
        engine.close()


if __name__ == "__main__":
    main()
