"""Drive the presales process (项目售前全流程管理): `python examples/presales.py`.

Sales files a new customer with market, the called demand confirmation collects requirements,
presales quotes below the company minimum discount (the market manager approves), and the
signed contract starts an order review.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import flowdesk
import flowdesk.processes
from flowdesk.processes import presales
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[1] / "bpmn"
FILES = ("quotation_approval.dmn", "requirement_priority.dmn", "order_routing.dmn",
         "demand_confirmation.bpmn", "order_review.bpmn", "presales.bpmn")  # fmt: skip

# Who does each task, and what they enter (the called demand confirmation's tasks too).
WORK: dict[str, tuple[str, dict[str, object]]] = {
    "Task_fill_customer_sheet": ("sam", {"customer_category": "key", "address": "Shanghai",
        "enterprise_nature": "private", "contact_person": "Wang", "contact_phone": "021-555"}),
    "Task_file_customer": ("mark", {"customer_id": "CUS-0042"}),
    "Task_market_research": ("mark", {"industry_trends": "Automation grows",
        "competitors": "Two local integrators", "customer_needs": "Throughput"}),
    "Task_define_scope": ("paula", {"project_goals": "Faster line", "deliverables": "Line"}),
    "Task_interview_customer": ("paula", {"collected_items": "500 t per day\nERP link"}),
    "Task_organise_requirements": ("paula", {"requirement_list":
        "performance | 500 t per day\ninterface | ERP link"}),
    "Task_assess_requirement": ("paula", {"importance": "high", "urgency": "medium",
        "difficulty": "low"}),
    "Task_confirm_requirements": ("cathy", {"confirmation": "confirmed"}),
    "Task_write_specification": ("paula", {"specification_summary": "Packaging line"}),
    "Task_plan_requirement": ("paula", {"planned_date": "2026-06-30",
        "responsible_department": "production", "responsible_person": "pete"}),
    "Task_design_solution": ("paula", {"solution_summary": "Two-lane line",
        "special_requirements": True}),
    "Task_review_product": ("rita", {"product_approved": True}),
    "Task_review_technology": ("tina", {"technology_approved": True}),
    "Task_review_operations": ("pete", {"operations_approved": True}),
    "Task_estimate_cost": ("fiona", {"cost_estimate": 150_000, "risk_level": "low"}),
    "Task_prepare_quotation": ("paula", {"list_price": 250_000, "discount": 84,
        "market_price_note": "95-110% of ours", "payment_terms": "30/70"}),
    "Task_approve_quotation_market": ("max", {"market_manager_approved": True}),
    "Task_approve_quotation_finance": ("fiona", {"finance_approved": True}),
    "Task_negotiate": ("sam", {"negotiation_outcome": "agreed"}),
    "Task_draft_contract": ("sam", {"contract_terms": "Delivery in 12 weeks"}),
    "Task_review_contract_legal": ("leo", {"legal_approved": True}),
    "Task_review_contract_finance": ("fiona", {"finance_contract_approved": True}),
    "Task_sign_contract": ("sam", {"signed_on": "2026-03-20", "customer_signatory": "Li"}),
}  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'flowdesk.db'}"
        with flowdesk.Engine(url, groups=STAFF, load_entry_points=False) as engine:
            flowdesk.processes.register(engine.handlers)  # the shipped processes' handlers
            for name in FILES:
                engine.deploy(BPMN / name)
            opportunity = presales.start(
                engine, customer_name="Acme Chemicals", opportunity_title="Packaging line",
                account_owner="sam", business_key="OPP-7",
            )  # fmt: skip
            # The open tasks of the opportunity and of the demand confirmation it calls.
            while tasks := [t for t in engine.tasks() if t.process_key != "order_review"]:
                task = tasks[0]
                user, data = WORK[task.element_id]
                engine.claim(task.id, user=user)
                engine.complete(task.id, data, user=user)
                print(f"{user:>6} did {task.name}")
            (order,) = engine.instances(key="order_review")  # started by contract_signed
            print("presales:", engine.instance(opportunity.id).state, "order review:", order.state)
            for document in engine.documents(opportunity.id):
                print(f"\n=== {document.name}\n{document.content}")


if __name__ == "__main__":
    main()
