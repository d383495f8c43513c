"""The presales process (项目售前全流程管理), path by path, through the public API only.

Each test drives `bpmn/presales.bpmn` with the simulated staff of `roles.STAFF`, claiming
each task as a member of its group and completing it as that user. The called *demand
confirmation* process and the *order review* that the signed contract starts are the real
shipped models.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flowdesk
import flowdesk.processes
from flowdesk.processes import presales
from flowdesk.processes.roles import ROLES, STAFF

BPMN = Path(__file__).parents[2] / "bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}

ACCOUNT_OWNER = "sam"
CALL_INTERFACE = (
    "customer_id",
    "customer_name",
    "opportunity_id",
    "opportunity_title",
    "account_owner",
)
"""The variables presales passes into demand confirmation."""
MEMBER: dict[str, str] = {}
for _user, _groups in STAFF.items():
    for _group in _groups:
        MEMBER.setdefault(_group, _user)
"""One user per group, the first STAFF member who has it (sam for sales, sally for its manager)."""

CUSTOMER_SHEET = {
    "customer_category": "key",
    "enterprise_nature": "private",
    "address": "上海市浦东新区 88 号",
    "contact_person": "王经理",
    "contact_phone": "021-5555-0101",
}

# Answers for the called demand confirmation's forms, by field id; other required fields
# get a plausible value from `answer` below.
DEMAND_ANSWERS: dict[str, Any] = {
    "collected_items": "Throughput of 500 t per day\nInterface to the customer's ERP",
    "requirement_list": (
        "performance | Throughput 500 t per day | the line handles 500 t a day\n"
        "interface | ERP interface | orders come from the customer's ERP"
    ),
    "confirmation": "confirmed",
    "importance": "high",
    "urgency": "high",
    "difficulty": "low",
}
POSITIVE_ENUM_VALUES = ("confirmed", "accepted", "approved", "approve", "agreed", "yes")


def deploy(engine: flowdesk.Engine, file_name: str) -> None:
    """Deploy a shipped BPMN file after the DMN decisions it names."""
    path = BPMN / file_name
    for decision in sorted(set(re.findall(r'camunda:decisionRef="([^"$]+)"', path.read_text()))):
        engine.deploy(BPMN / f"{decision}.dmn")
    engine.deploy(path)


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    deploy(engine, "demand_confirmation.bpmn")
    deploy(engine, "order_review.bpmn")
    deploy(engine, "presales.bpmn")
    return engine


def answer(task: flowdesk.Task, overrides: dict[str, Any]) -> dict[str, Any]:
    """Completion data for any task: `overrides` first, then a value for each required field."""
    data: dict[str, Any] = {}
    for field in task.form_fields:
        if field.id in overrides:
            data[field.id] = overrides[field.id]
        elif not field.required or field.readonly:
            continue
        elif field.default is not None:
            data[field.id] = field.default
        elif field.type == "enum":
            positive = [v for v in POSITIVE_ENUM_VALUES if v in field.enum_values]
            data[field.id] = positive[0] if positive else field.enum_values[0]
        elif field.type == "long":
            data[field.id] = 1
        elif field.type == "boolean":
            data[field.id] = True
        elif field.type == "date":
            data[field.id] = "2026-03-10"
        else:
            data[field.id] = f"Answer for {field.id}"
    return data


def actor(task: flowdesk.Task) -> str:
    """The user who does the task: its assignee, else a member of its first candidate group."""
    if task.assignee:
        return task.assignee
    return MEMBER[task.candidate_groups[0]]


def act(
    engine: flowdesk.Engine, task: flowdesk.Task, data: dict[str, Any], user: str | None = None
):
    """Claim the task as the acting user, then complete it as them."""
    user = user or actor(task)
    engine.claim(task.id, user=user)
    return engine.complete(task.id, data, user=user)


class Opportunity:
    """One presales instance and the business steps that move it on."""

    def __init__(self, engine: flowdesk.Engine, instance: flowdesk.ProcessInstance) -> None:
        self.engine = engine
        self.restart: Callable[[], flowdesk.Engine] | None = None
        self.id = instance.id
        self.business_key = instance.business_key

    @classmethod
    def start(
        cls, engine: flowdesk.Engine, *, customer_id: str | None = None, key: str = "OPP-2026-001"
    ) -> Opportunity:
        instance = presales.start(
            engine,
            customer_name="华东精细化工有限公司",
            opportunity_title="Packaging line upgrade",
            account_owner=ACCOUNT_OWNER,
            customer_id=customer_id,
            business_key=key,
        )
        return cls(engine, instance)

    # -- reading -------------------------------------------------------------------------------

    @property
    def instance(self) -> flowdesk.ProcessInstance:
        return self.engine.instance(self.id)

    @property
    def variables(self) -> dict[str, Any]:
        return self.instance.variables

    def open_tasks(self) -> set[str]:
        return {t.element_id for t in self.engine.tasks(instance_id=self.id)}

    def task(self, element_id: str) -> flowdesk.Task:
        matching = [t for t in self.engine.tasks(instance_id=self.id) if t.element_id == element_id]
        assert len(matching) == 1, (element_id, self.open_tasks())
        return matching[0]

    def ends(self) -> list[str]:
        """The end events reached, in order."""
        return [
            e.element_id
            for e in self.engine.history(self.id)
            if e.type == "activity_completed" and e.data.get("kind") == "EndEvent"
        ]

    def choices(self, gateway_id: str) -> list[list[str]]:
        """Where each pass through an exclusive gateway went."""
        return [
            e.data["next"]
            for e in self.engine.history(self.id)
            if e.type == "activity_completed" and e.element_id == gateway_id
        ]

    def documents(self) -> list[str]:
        return [d.name for d in self.engine.documents(self.id)]

    # -- acting --------------------------------------------------------------------------------

    def do(self, element_id: str, data: dict[str, Any], *, user: str | None = None) -> Any:
        if self.restart is not None:
            self.engine = self.restart()
        return act(self.engine, self.task(element_id), data, user)

    def file_customer(self, customer_id: str = "CUS-0042") -> None:
        self.do("Task_fill_customer_sheet", CUSTOMER_SHEET)
        self.do("Task_file_customer", {"customer_id": customer_id, "filing_note": "新客户"})

    def research(self) -> None:
        self.do(
            "Task_market_research",
            {
                "industry_trends": "Automation of packaging grows 12% a year",
                "competitors": "Two local integrators",
                "customer_needs": "Higher throughput, fewer operators",
            },
        )

    def confirm_demand(self) -> flowdesk.ProcessInstance:
        """Complete whatever the called demand confirmation asks until it ends."""
        (called,) = self.engine.instances(parent_id=self.id)
        for _ in range(40):
            if self.restart is not None:
                self.engine = self.restart()
            tasks = self.engine.tasks(instance_id=called.id)
            if not tasks:
                break
            act(self.engine, tasks[0], answer(tasks[0], DEMAND_ANSWERS))
        called = self.engine.instance(called.id)
        assert called.state == "completed", (called.state, called.incident)
        return called

    def design(
        self, summary: str = "Two-lane line with ERP link", *, special: bool = False
    ) -> None:
        self.do(
            "Task_design_solution",
            {"solution_summary": summary, "special_requirements": special, "delivery_weeks": 12},
        )

    def review(
        self, product: bool = True, technology: bool = True, operations: bool = True
    ) -> None:
        for key, approved in (
            ("product", product),
            ("technology", technology),
            ("operations", operations),
        ):
            self.do(
                f"Task_review_{key}",
                {f"{key}_approved": approved, f"{key}_comment": "ok" if approved else "rework"},
            )

    def estimate_cost(self) -> None:
        self.do("Task_estimate_cost", {"cost_estimate": 60_000, "risk_level": "medium"})

    def quote(self, *, list_price: int = 100_000, discount: int = 90) -> None:
        self.do(
            "Task_prepare_quotation",
            {
                "list_price": list_price,
                "discount": discount,
                "market_price_note": "Competitors quote 95,000–110,000",
                "payment_terms": "30% on signing, 70% on acceptance",
            },
        )

    def approve_as_market_manager(self, approved: bool) -> None:
        self.do("Task_approve_quotation_market", {"market_manager_approved": approved})

    def approve_as_finance(self, approved: bool) -> None:
        self.do("Task_approve_quotation_finance", {"finance_approved": approved})

    def negotiate(self, outcome: str) -> None:
        self.do(
            "Task_negotiate", {"negotiation_outcome": outcome, "negotiation_notes": f"{outcome}"}
        )

    def draft_contract(self) -> None:
        self.do(
            "Task_draft_contract",
            {
                "contract_terms": "Delivery in 12 weeks, 1 year warranty",
                "delivery_date": "2026-06-01",
            },
        )

    def review_contract(self, legal: bool = True, finance: bool = True) -> None:
        self.do("Task_review_contract_legal", {"legal_approved": legal, "legal_comment": "合法"})
        self.do("Task_review_contract_finance", {"finance_contract_approved": finance})

    def sign(self) -> flowdesk.ProcessInstance:
        return self.do(
            "Task_sign_contract", {"signed_on": "2026-03-20", "customer_signatory": "李总"}
        )

    def to_review(self) -> None:
        """From the start of a new customer to the three solution reviews."""
        self.file_customer()
        self.research()
        self.confirm_demand()
        self.design()

    def to_negotiation(self) -> None:
        """From the start to the negotiation, with a quotation that needs no approval."""
        self.to_review()
        self.review()
        self.estimate_cost()
        self.quote()


# -- the model


def test_model__every_flow_node_in_one_lane_and_every_user_task_offered_to_a_role() -> None:
    process = ET.parse(BPMN / "presales.bpmn").getroot().find("bpmn:process", NS)
    assert process is not None
    laned = [ref.text for ref in process.iterfind("bpmn:laneSet/bpmn:lane/bpmn:flowNodeRef", NS)]
    nodes = [
        child.get("id")
        for child in process
        if child.tag.split("}")[1] not in {"laneSet", "sequenceFlow", "documentation"}
    ]
    assert sorted(laned) == sorted(nodes)
    for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS):
        assert lane.get("id", "").removeprefix("Lane_") in ROLES
    for task in process.iterfind("bpmn:userTask", NS):
        groups = task.get(f"{{{NS['camunda']}}}candidateGroups", "")
        assert groups and set(groups.split(",")) <= set(ROLES), task.get("id")
        assert task.find("bpmn:documentation", NS) is not None


# -- 1. register the customer (客户备案)


def test_new_customer__sales_fills_the_sheet_and_market_files_it(deployed: flowdesk.Engine) -> None:
    opportunity = Opportunity.start(deployed)

    sheet = opportunity.task("Task_fill_customer_sheet")
    assert sheet.assignee == ACCOUNT_OWNER
    assert sheet.candidate_groups == ("sales",)
    assert sheet.due is not None and sheet.due.isoformat().startswith("2026-03-09T09:00")
    assert [f.id for f in sheet.form_fields if f.required] == [
        "customer_category",
        "enterprise_nature",
        "address",
        "contact_person",
        "contact_phone",
    ]
    categories = next(f for f in sheet.form_fields if f.id == "customer_category").enum_values
    assert list(categories) == list(presales.CUSTOMER_CATEGORIES)
    opportunity.do("Task_fill_customer_sheet", CUSTOMER_SHEET)

    filing = opportunity.task("Task_file_customer")
    assert filing.candidate_groups == ("market",)
    assert "华东精细化工有限公司" in filing.documentation
    opportunity.do("Task_file_customer", {"customer_id": "CUS-0042"})

    assert opportunity.open_tasks() == {"Task_market_research"}
    assert opportunity.choices("Gateway_customer_filed") == [["Task_filing_deadlines"]]
    assert deployed.jobs(instance_id=opportunity.id) == []  # filed in time: no reminder
    (sheet_document,) = deployed.documents(opportunity.id)
    assert sheet_document.name == "客户基本信息表 CUS-0042 华东精细化工有限公司"
    assert sheet_document.element_id == "Task_render_customer_sheet"
    for text in ("客户基本信息表", "CUS-0042", "重点客户", "民营", "王经理", "021-5555-0101"):
        assert text in sheet_document.content


def test_known_customer__skips_filing_and_starts_with_market_research(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed, customer_id="CUS-0007")

    assert opportunity.open_tasks() == {"Task_market_research"}
    assert opportunity.choices("Gateway_customer_filed") == [["Gateway_customer_ready"]]
    assert opportunity.task("Task_market_research").candidate_groups == ("market",)
    assert deployed.jobs(instance_id=opportunity.id) == []
    assert opportunity.documents() == []


def test_filing__reminds_after_3_working_days_and_escalates_after_5(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    opportunity = Opportunity.start(deployed)  # Monday 2 March, 09:00
    assert opportunity.variables["filing_reminder_due"] == "2026-03-05T09:00:00+00:00"
    assert opportunity.variables["filing_due"] == "2026-03-09T09:00:00+00:00"

    clock.advance(days=2, hours=23)  # Thursday 08:00
    deployed.run_due_jobs()
    assert "notifications" not in opportunity.variables

    clock.advance(hours=1)  # Thursday 09:00: 3 working days
    deployed.run_due_jobs()
    (notice,) = opportunity.variables["notifications"]
    assert notice["kind"] == "filing_reminder" and notice["to"] == ACCOUNT_OWNER
    assert opportunity.open_tasks() == {"Task_fill_customer_sheet"}
    assert "End_reminder_sent" in opportunity.ends()

    clock.advance(days=2)  # Saturday: 5 calendar days, but only 4 working days
    deployed.run_due_jobs()
    assert opportunity.open_tasks() == {"Task_fill_customer_sheet"}

    clock.advance(days=2)  # Monday 9 March, 09:00: 5 working days
    deployed.run_due_jobs()
    assert opportunity.open_tasks() == {"Task_fill_customer_sheet", "Task_follow_up_overdue_filing"}
    follow_up = opportunity.task("Task_follow_up_overdue_filing")
    assert follow_up.candidate_groups == ("sales_manager",)
    assert "sam" in follow_up.documentation and "2026-03-09" in follow_up.documentation

    opportunity.file_customer()  # late, but the filing goes on
    assert opportunity.open_tasks() == {"Task_follow_up_overdue_filing", "Task_market_research"}
    opportunity.do("Task_follow_up_overdue_filing", {"follow_up_action": "Talked to sam"})
    assert opportunity.task("Task_market_research")
    assert opportunity.ends() == ["End_reminder_sent", "End_escalation_handled"]
    assert deployed.jobs(instance_id=opportunity.id) == []


def test_filing_deadlines__count_working_days_from_first_contact(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    clock.advance(days=3)  # Thursday 5 March
    opportunity = Opportunity.start(deployed)
    assert opportunity.variables["filing_reminder_due"] == "2026-03-10T09:00:00+00:00"  # Tuesday
    assert opportunity.variables["filing_due"] == "2026-03-12T09:00:00+00:00"  # Thursday
    assert sorted(job.element_id for job in deployed.jobs(instance_id=opportunity.id)) == [
        "Timer_filing_overdue",
        "Timer_filing_reminder",
    ]


# -- 2./3. market research and demand analysis


def test_demand_analysis__calls_demand_confirmation_with_customer_and_gets_requirements(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.file_customer("CUS-0042")
    opportunity.research()

    (called,) = deployed.instances(parent_id=opportunity.id)
    assert called.key == "demand_confirmation"
    assert called.business_key == "OPP-2026-001"
    assert {k: called.variables[k] for k in CALL_INTERFACE} == {
        "customer_id": "CUS-0042",
        "customer_name": "华东精细化工有限公司",
        "opportunity_id": "OPP-2026-001",
        "opportunity_title": "Packaging line upgrade",
        "account_owner": ACCOUNT_OWNER,
    }
    assert opportunity.open_tasks() == set()

    called = opportunity.confirm_demand()
    variables = opportunity.variables
    assert variables["requirements"] == called.variables["requirements"]
    assert len(variables["requirements"]) == 2
    for requirement in variables["requirements"]:
        assert {"id", "title", "category", "priority"} <= set(requirement)
    assert variables["requirement_document"] == called.variables["requirement_document"]
    assert variables["requirement_document"] in [d.name for d in deployed.documents(called.id)]
    design = opportunity.task("Task_design_solution")
    assert design.candidate_groups == ("presales",)
    assert "2 confirmed requirements" in design.documentation


# -- 4. solution design and review (方案设计)


def test_solution_review__three_reviews_in_parallel_by_their_roles(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()

    reviews = {"Task_review_product", "Task_review_technology", "Task_review_operations"}
    assert opportunity.open_tasks() == reviews
    assert {e: opportunity.task(e).candidate_groups for e in reviews} == {
        "Task_review_product": ("research",),
        "Task_review_technology": ("production_tech",),
        "Task_review_operations": ("production",),
    }
    opportunity.review()
    assert opportunity.open_tasks() == {"Task_estimate_cost"}
    assert opportunity.task("Task_estimate_cost").candidate_groups == ("finance",)


def test_solution_review__rejected_review_sends_the_design_back__twice(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()

    opportunity.review(technology=False)
    assert opportunity.open_tasks() == {"Task_design_solution"}
    opportunity.design("Second design")
    opportunity.review(product=False, operations=False)
    assert opportunity.open_tasks() == {"Task_design_solution"}
    opportunity.design("Third design")
    opportunity.review()

    assert opportunity.open_tasks() == {"Task_estimate_cost"}
    assert opportunity.choices("Gateway_review_result") == [
        ["Gateway_design_merge"],
        ["Gateway_design_merge"],
        ["Task_estimate_cost"],
    ]
    assert opportunity.variables["solution_summary"] == "Third design"


# -- 5. quotation (报价编制) and its approval


@pytest.mark.parametrize(
    ("discount", "amount", "level"),
    [
        (90, 499_999, "none"),  # within the minimum discount
        (85, 100_000, "none"),  # exactly the minimum
        (90, 50_000_000, "none"),  # within the minimum, however large: no amount cut-off
        (84, 10_000, "market_manager_and_finance"),  # 1 point below the minimum, small
        (80, 999_999, "market_manager_and_finance"),  # 5 points below
        (79, 10_000_000, "market_manager_and_finance"),  # far below, very large
    ],
)
def test_rule_003_A2_2_discount_change__needs_market_manager_and_finance_whatever_the_amount(
    deployed: flowdesk.Engine, discount: int, amount: int, level: str
) -> None:
    result = deployed.evaluate_decision(
        "quotation_approval", {"discount": discount, "minimum_discount": 85, "amount": amount}
    )
    assert result == {"approval_level": level}


def test_rule_003_A2_2_no_discount_and_amount_lets_the_market_manager_approve_alone(
    deployed: flowdesk.Engine,
) -> None:
    levels = {
        (discount, amount): deployed.evaluate_decision(
            "quotation_approval", {"discount": discount, "minimum_discount": 85, "amount": amount}
        )["approval_level"]
        for discount in range(50, 101, 1)
        for amount in (0, 99_999, 500_000, 1_000_000, 100_000_000)
    }
    assert set(levels.values()) == {"none", "market_manager_and_finance"}
    assert all((level == "none") == (discount >= 85) for (discount, _), level in levels.items())


def test_quotation__within_minimum_discount_needs_no_approval(deployed: flowdesk.Engine) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()
    opportunity.review()
    opportunity.estimate_cost()
    preparing = opportunity.task("Task_prepare_quotation")
    assert preparing.candidate_groups == ("presales",)
    assert "60000" in preparing.documentation and "85%" in preparing.documentation

    opportunity.quote(list_price=100_000, discount=90)

    variables = opportunity.variables
    assert (variables["amount"], variables["approval_level"]) == (90_000, "none")
    assert variables["quotation_no"] == "OPP-2026-001-Q1"
    assert opportunity.open_tasks() == {"Task_negotiate"}
    quotation = deployed.documents(opportunity.id)[-1]
    assert quotation.name == "报价单 OPP-2026-001-Q1"
    for text in ("报价单", "100,000", "90,000", "无需审批", "ERP interface"):
        assert text in quotation.content


def test_rule_003_A2_2_one_point_below_minimum__market_manager_then_finance(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()
    opportunity.review()
    opportunity.estimate_cost()
    opportunity.quote(list_price=200_000, discount=84)

    assert opportunity.variables["approval_level"] == "market_manager_and_finance"
    assert opportunity.variables["amount"] == 168_000
    approval = opportunity.task("Task_approve_quotation_market")
    assert approval.candidate_groups == ("market_manager",)
    assert "168000" in approval.documentation and "84%" in approval.documentation
    opportunity.approve_as_market_manager(True)

    # the market manager's approval alone does not issue the quotation
    assert opportunity.open_tasks() == {"Task_approve_quotation_finance"}
    assert not [name for name in opportunity.documents() if name.startswith("报价单")]
    opportunity.approve_as_finance(True)
    assert opportunity.open_tasks() == {"Task_negotiate"}
    assert "市场部经理及财务" in deployed.documents(opportunity.id)[-1].content


def test_quotation__far_below_minimum_discount_needs_market_manager_and_finance(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()
    opportunity.review()
    opportunity.estimate_cost()
    opportunity.quote(list_price=100_000, discount=70)

    assert opportunity.variables["approval_level"] == "market_manager_and_finance"
    opportunity.approve_as_market_manager(True)
    finance = opportunity.task("Task_approve_quotation_finance")
    assert finance.candidate_groups == ("finance",)
    opportunity.approve_as_finance(True)

    assert opportunity.open_tasks() == {"Task_negotiate"}
    assert opportunity.choices("Gateway_finance_decision") == [["Gateway_quotation_approved"]]


def test_quotation__rejected_approvals_send_it_back_to_presales__twice_each(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_review()
    opportunity.review()
    opportunity.estimate_cost()

    opportunity.quote(discount=70)
    opportunity.approve_as_market_manager(False)  # Q1: market manager rejects
    opportunity.quote(discount=72)
    opportunity.approve_as_market_manager(False)  # Q2: again
    opportunity.quote(discount=74)
    opportunity.approve_as_market_manager(True)
    opportunity.approve_as_finance(False)  # Q3: finance rejects
    opportunity.quote(discount=76)
    opportunity.approve_as_market_manager(True)
    opportunity.approve_as_finance(False)  # Q4: again
    opportunity.quote(discount=83)  # Q5: 2 points below: still both approve
    assert opportunity.variables["approval_level"] == "market_manager_and_finance"
    opportunity.approve_as_market_manager(True)
    opportunity.approve_as_finance(True)

    assert opportunity.open_tasks() == {"Task_negotiate"}
    assert opportunity.variables["quotation_no"] == "OPP-2026-001-Q5"
    assert opportunity.choices("Gateway_market_manager_decision") == [
        ["Gateway_quotation_merge"],
        ["Gateway_quotation_merge"],
        ["Task_approve_quotation_finance"],
        ["Task_approve_quotation_finance"],
        ["Task_approve_quotation_finance"],
    ]
    assert opportunity.choices("Gateway_finance_decision") == [
        ["Gateway_quotation_merge"],
        ["Gateway_quotation_merge"],
        ["Gateway_quotation_approved"],
    ]
    quotations = [name for name in opportunity.documents() if name.startswith("报价单")]
    assert quotations == ["报价单 OPP-2026-001-Q5"]  # only an approved quotation is issued


# -- 6. negotiation (谈判沟通)


def test_negotiation__is_a_customer_meeting_of_the_account_owner(deployed: flowdesk.Engine) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_negotiation()

    negotiation = opportunity.task("Task_negotiate")
    assert negotiation.assignee == ACCOUNT_OWNER
    assert negotiation.properties == {"customerContact": "meeting"}
    assert "OPP-2026-001-Q1" in negotiation.documentation
    assert deployed.jobs(instance_id=opportunity.id) == []


def test_negotiation__revise_solution_and_revise_price_loop_back__twice_each__then_lost(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_negotiation()

    for _ in range(2):
        opportunity.negotiate("revise_solution")
        assert opportunity.open_tasks() == {"Task_design_solution"}
        opportunity.design()
        opportunity.review()
        opportunity.estimate_cost()
        opportunity.quote()
    for discount in (88, 86):
        opportunity.negotiate("revise_price")
        assert opportunity.open_tasks() == {"Task_prepare_quotation"}
        opportunity.quote(discount=discount)
    assert opportunity.variables["quotation_no"] == "OPP-2026-001-Q5"
    assert opportunity.variables["amount"] == 86_000
    opportunity.negotiate("lost")

    assert opportunity.instance.state == "completed"
    assert opportunity.ends() == ["End_opportunity_lost"]
    assert opportunity.choices("Gateway_negotiation_outcome") == [
        ["Gateway_design_merge"],
        ["Gateway_design_merge"],
        ["Gateway_quotation_merge"],
        ["Gateway_quotation_merge"],
        ["End_opportunity_lost"],
    ]
    assert [n for n in opportunity.documents() if n.startswith("报价单")] == [
        f"报价单 OPP-2026-001-Q{n}" for n in range(1, 6)
    ]


def test_invented_rule_removed__no_timer_ends_the_salespersons_negotiation(
    deployed: flowdesk.Engine, clock: Any
) -> None:
    """The sources name no 30-day limit; the salesperson records a lost opportunity."""
    opportunity = Opportunity.start(deployed)
    opportunity.to_negotiation()
    negotiation = opportunity.task("Task_negotiate")

    clock.advance(days=60)
    deployed.run_due_jobs()

    assert opportunity.instance.state == "running"
    assert opportunity.task("Task_negotiate").id == negotiation.id
    opportunity.negotiate("lost")
    assert opportunity.ends() == ["End_opportunity_lost"]


# -- 7./8. contract review and signing


def test_contract__rejected_reviews_send_it_back_to_drafting__twice(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_negotiation()
    opportunity.negotiate("agreed")

    opportunity.draft_contract()
    assert opportunity.open_tasks() == {
        "Task_review_contract_legal",
        "Task_review_contract_finance",
    }
    assert opportunity.task("Task_review_contract_legal").candidate_groups == ("legal",)
    assert opportunity.task("Task_review_contract_finance").candidate_groups == ("finance",)
    opportunity.review_contract(legal=False)
    assert opportunity.open_tasks() == {"Task_draft_contract"}
    opportunity.draft_contract()
    opportunity.review_contract(finance=False)
    assert opportunity.open_tasks() == {"Task_draft_contract"}
    opportunity.draft_contract()
    opportunity.review_contract()

    assert opportunity.open_tasks() == {"Task_sign_contract"}
    assert opportunity.choices("Gateway_contract_review_result") == [
        ["Gateway_contract_merge"],
        ["Gateway_contract_merge"],
        ["Task_sign_contract"],
    ]


CONTRACT_SIGNED_PAYLOAD = {
    "order_no": "SO-OPP-2026-001",
    "customer_id": "CUS-0042",
    "customer_name": "华东精细化工有限公司",
    "order_type": "custom",
    "amount": 210_000,
    "special_requirements": True,
    "stock_pickup": False,
    "contract_signer": ACCOUNT_OWNER,
    "opportunity_id": "OPP-2026-001",
}


def sign_a_contract(engine: flowdesk.Engine) -> Opportunity:
    """A new customer's opportunity through to the signed contract, quoted at 210,000 CNY."""
    opportunity = Opportunity.start(engine)
    opportunity.file_customer("CUS-0042")
    opportunity.research()
    opportunity.confirm_demand()
    opportunity.design(special=True)
    opportunity.review()
    opportunity.estimate_cost()
    opportunity.quote(list_price=250_000, discount=84)  # 210,000 CNY
    opportunity.approve_as_market_manager(True)
    opportunity.approve_as_finance(True)
    opportunity.negotiate("agreed")
    opportunity.draft_contract()
    opportunity.review_contract()
    signing = opportunity.task("Task_sign_contract")
    assert signing.assignee == ACCOUNT_OWNER
    assert signing.properties == {"customerContact": "meeting"}
    done = opportunity.sign()
    assert done.state == "completed"
    return opportunity


def test_signed_contract__ends_with_the_contract_signed_message_and_summary(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = sign_a_contract(deployed)

    assert opportunity.ends() == ["End_contract_signed"]
    thrown_events = [e for e in deployed.history(opportunity.id) if e.type == "message_thrown"]
    # customer_filed opened the customer's master record when the market filed it.
    assert [e.data["name"] for e in thrown_events] == ["customer_filed", "contract_signed"]
    thrown = thrown_events[-1]
    assert thrown.data["variables"] == CONTRACT_SIGNED_PAYLOAD
    (order,) = deployed.instances(key="order_review")
    assert thrown.data["delivered_to"] == order.id
    assert order.business_key == "OPP-2026-001"

    assert opportunity.documents() == [
        "客户基本信息表 CUS-0042 华东精细化工有限公司",
        "报价单 OPP-2026-001-Q1",
        "合同摘要 SO-OPP-2026-001",
    ]
    summary = deployed.documents(opportunity.id)[-1]
    assert summary.element_id == "Task_render_contract_summary"
    for text in ("合同摘要", "SO-OPP-2026-001", "210,000", "李总", "2026-03-20", "有 (yes)"):
        assert text in summary.content


def test_signed_contract__survives_a_new_engine_at_every_wait_state(
    deployed: flowdesk.Engine, new_engine: Callable[[], flowdesk.Engine]
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.restart = new_engine
    opportunity.to_negotiation()
    opportunity.negotiate("agreed")
    opportunity.draft_contract()
    opportunity.review_contract()
    opportunity.sign()

    assert opportunity.ends() == ["End_contract_signed"]
    assert len(opportunity.documents()) == 3


def test_signed_contract__starts_order_review_at_its_message_start_with_the_payload(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = sign_a_contract(deployed)

    (order,) = deployed.instances(key="order_review")
    assert order.business_key == opportunity.business_key
    assert {k: order.variables.get(k) for k in CONTRACT_SIGNED_PAYLOAD} == CONTRACT_SIGNED_PAYLOAD
    started = [
        e.element_id
        for e in deployed.history(order.id)
        if e.type == "activity_completed" and e.data.get("kind") == "StartEvent"
    ]
    assert started == ["Start_contract_signed"]


# -- authorisation


def test_wrong_role__may_neither_claim_nor_complete(deployed: flowdesk.Engine) -> None:
    opportunity = Opportunity.start(deployed)

    sheet = opportunity.task("Task_fill_customer_sheet")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(sheet.id, CUSTOMER_SHEET, user="sally")  # sales, but not the owner
    opportunity.file_customer()
    research = opportunity.task("Task_market_research")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(research.id, user="paula")  # presales, not market

    opportunity.research()
    opportunity.confirm_demand()
    opportunity.design()
    opportunity.review()
    opportunity.estimate_cost()
    opportunity.quote(discount=80)
    approval = opportunity.task("Task_approve_quotation_market")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(approval.id, user="mark")  # market, but not its manager
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(approval.id, {"market_manager_approved": True}, user="fiona")
    assert opportunity.task("Task_approve_quotation_market").state == "open"
