"""Drive the demand confirmation process (客户需求确认) from an application.

Presales defines the scope and interviews the customer, organises and rates the requirements
(a decision table gives each a priority), the customer asks for a change by message, and the
second round is confirmed on the portal; the requirement list, change log and requirement
specification come out as documents. Run it: `python examples/demand_confirmation.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import flowdesk
import flowdesk.processes
from flowdesk.processes import demand_confirmation
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[1] / "bpmn"


def work(
    engine: flowdesk.Engine, instance_id: str, element_id: str, user: str, **data: object
) -> None:
    """Claim and complete every open task of `element_id` as `user`."""
    for task in engine.tasks(instance_id=instance_id):
        if task.element_id == element_id:
            engine.claim(task.id, user=user)
            engine.complete(task.id, data, user=user)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        registry = flowdesk.HandlerRegistry()
        flowdesk.processes.register(registry)  # every shipped process, renderDocument too
        url = f"sqlite:///{Path(folder) / 'flowdesk.db'}"
        engine = flowdesk.Engine(url, groups=STAFF, handlers=registry, load_entry_points=False)
        engine.deploy(BPMN / "requirement_priority.dmn")
        engine.deploy(BPMN / "demand_confirmation.bpmn")
        instance = demand_confirmation.start(
            engine,
            customer_id="C-001",
            customer_name="Acme Ltd",
            opportunity_id="OPP-7",
            opportunity_title="Plant ERP",
            account_owner="sam",
            business_key="OPP-7",
            user="paula",
        )
        run = instance.id
        work(engine, run, "Task_define_scope", "paula", project_goals="One ERP", deliverables="ERP")
        work(engine, run, "Task_interview_customer", "paula", collected_items="SSO\nfast reports")
        for round_no in (1, 2):
            items = "functional | Single sign-on\nperformance | Reports in 2 s"
            work(engine, run, "Task_organise_requirements", "paula", requirement_list=items)
            work(engine, run, "Task_assess_requirement", "paula",
                 importance="high", urgency="medium", difficulty="low")  # fmt: skip
            if round_no == 1:  # the customer asks for a change while confirming
                engine.correlate(
                    "requirement_change",
                    business_key="OPP-7",
                    variables={"change_description": "Add a mobile app"},
                )
                work(engine, run, "Task_assess_change_impact", "paula",
                     impact_level="medium", impact_notes="+2 weeks",
                     change_decision="accept", decision_reason="worth two weeks")  # fmt: skip
            work(engine, run, "Task_confirm_requirements", "cathy", confirmation="confirmed")
        work(engine, run, "Task_write_specification", "paula", specification_summary="ERP")
        work(engine, run, "Task_plan_requirement", "paula", planned_date="2026-06-30",
             responsible_department="research", responsible_person="rita")  # fmt: skip

        done = engine.instance(run)
        print(done.state, [(r["id"], r["priority"]) for r in done.variables["requirements"]])
        for document in engine.documents(run):
            print(f"\n=== {document.name}\n{document.content}")
        engine.close()


if __name__ == "__main__":
    main()
