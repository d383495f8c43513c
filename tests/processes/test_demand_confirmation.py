"""Demand confirmation (客户需求确认): every path of its BPMN, walked by the users of each role."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flowdesk
import flowdesk.processes
from flowdesk.processes import demand_confirmation

BPMN = Path(__file__).parents[2] / "bpmn"

PRESALES = "paula"
CUSTOMER = "cathy"
ACCOUNT_OWNER = "sam"

REQUIREMENT_LIST = """\
functional | Single sign-on | log in with the company account
性能 | Report speed | reports in under 2 s
interface | ERP export
functional | Single  Sign-On | asked twice
"""
RATINGS = {  # title -> (importance, urgency, difficulty); the expected priority after it
    "Single sign-on": ("high", "high", "medium"),  # P1
    "Report speed": ("medium", "medium", "high"),  # P3
    "ERP export": ("low", "low", "low"),  # P4
}


class Driver:
    """One demand confirmation, driven through the public API by the users of each role."""

    def __init__(
        self,
        engine: flowdesk.Engine,
        business_key: str = "DC-1",
        restart: Callable[[], flowdesk.Engine] | None = None,
        instance: flowdesk.ProcessInstance | None = None,
    ) -> None:
        """Start a demand confirmation on its own, or drive `instance` (a called one)."""
        self.engine = engine
        self.business_key = business_key
        self.restart = restart
        self.instance = instance or demand_confirmation.start(
            engine,
            customer_id="C-001",
            customer_name="Acme Ltd",
            opportunity_id="OPP-7",
            opportunity_title="Plant ERP",
            account_owner=ACCOUNT_OWNER,
            business_key=business_key,
            user=PRESALES,
        )

    @property
    def variables(self) -> dict[str, Any]:
        return self.engine.instance(self.instance.id).variables

    @property
    def state(self) -> str:
        return self.engine.instance(self.instance.id).state

    def open_tasks(self, element_id: str | None = None) -> list[flowdesk.Task]:
        tasks = self.engine.tasks(instance_id=self.instance.id)
        return [t for t in tasks if element_id is None or t.element_id == element_id]

    def open_elements(self) -> Counter[str]:
        return Counter(t.element_id for t in self.open_tasks())

    def complete(
        self, element_id: str, data: dict[str, Any], user: str = PRESALES
    ) -> flowdesk.Task:
        """Claim and complete the one open task of `element_id` as `user` (on a new engine,
        as after a restart, when the driver restarts)."""
        if self.restart is not None:
            self.engine = self.restart()
        (task,) = self.open_tasks(element_id)
        self.engine.claim(task.id, user=user)
        self.engine.complete(task.id, data, user=user)
        return task

    def define_scope(self, **channels: bool) -> flowdesk.Task:
        return self.complete(
            "Task_define_scope",
            {"project_goals": "One ERP for both plants", "deliverables": "ERP rollout", **channels},
        )

    def interview(self, items: str = "single sign-on\nfast reports") -> flowdesk.Task:
        return self.complete("Task_interview_customer", {"collected_items": items})

    def organise(self, requirement_list: str = REQUIREMENT_LIST) -> flowdesk.Task:
        return self.complete("Task_organise_requirements", {"requirement_list": requirement_list})

    def assess_all(self, ratings: dict[str, tuple[str, str, str]] = RATINGS) -> None:
        """Rate every open requirement, in the reverse of the list's order (instances are
        independent)."""
        tasks = self.open_tasks("Task_assess_requirement")
        assert len(tasks) == len(ratings)
        for task in reversed(tasks):
            title = next(t for t in ratings if f"] {t}." in task.documentation)
            importance, urgency, difficulty = ratings[title]
            self.engine.claim(task.id, user=PRESALES)
            self.engine.complete(
                task.id,
                {"importance": importance, "urgency": urgency, "difficulty": difficulty},
                user=PRESALES,
            )

    def confirm(self, decision: str, comments: str = "") -> flowdesk.Task:
        data = {"confirmation": decision, "customer_comments": comments}
        return self.complete("Task_confirm_requirements", data, user=CUSTOMER)

    def write_specification(self, *, plan: bool = True) -> flowdesk.Task:
        """Step 6; with `plan`, also the implementation plan of every requirement if the
        flow goes on to it (no change pending)."""
        task = self.complete(
            "Task_write_specification",
            {
                "specification_summary": "ERP for two plants",
                "performance_indicators": "Reports < 2 s at 200 users",
            },
        )
        if plan:
            self.plan_implementation()
        return task

    def plan_implementation(self) -> None:
        """Plan each requirement: a date, department and person per requirement."""
        for index, task in enumerate(self.open_tasks("Task_plan_requirement")):
            self.engine.claim(task.id, user=PRESALES)
            self.engine.complete(
                task.id,
                {
                    "planned_date": f"2026-0{4 + index}-30",
                    "responsible_department": "research",
                    "responsible_person": f"engineer {index + 1}",
                },
                user=PRESALES,
            )

    def request_change(self, description: str) -> None:
        self.engine.correlate(
            "requirement_change",
            business_key=self.business_key,
            variables={"change_description": description, "requested_by": "Mr Li"},
        )

    def assess_change(
        self, impact: str = "medium", change_id: str = "", decision: str = "accept"
    ) -> flowdesk.Task:
        return self.complete(
            "Task_assess_change_impact",
            {
                "impact_level": impact,
                "impact_notes": "two more weeks",
                "change_id": change_id,
                "change_decision": decision,
                "decision_reason": f"{decision}: agreed with the customer",
            },
        )

    def round_to_confirmation(self, requirement_list: str = REQUIREMENT_LIST) -> None:
        """Steps 3-4: organise, rate each item; the customer's confirmation is then open."""
        self.organise(requirement_list)
        self.assess_all()
        assert self.open_elements()["Task_confirm_requirements"] == 1

    def ends_reached(self) -> Counter[str]:
        return Counter(
            event.element_id
            for event in self.engine.history(self.instance.id)
            if event.type == "activity_completed" and event.data.get("kind") == "EndEvent"
        )

    def document_names(self) -> list[str]:
        return sorted(d.name for d in self.engine.documents(self.instance.id))


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(BPMN / "requirement_priority.dmn")
    engine.deploy(BPMN / "demand_confirmation.bpmn")
    return engine


def test_confirmed_requirements__are_prioritised_documented_and_archived(
    deployed, new_engine, clock
):
    run = Driver(deployed, restart=new_engine)
    (scope,) = run.open_tasks()
    assert (scope.element_id, scope.candidate_groups) == ("Task_define_scope", ("presales",))
    assert scope.properties["customerContact"] == "meeting"
    assert "Acme Ltd" in scope.documentation
    run.define_scope(collect_by_interview=True)

    (interview,) = run.open_tasks()
    assert interview.element_id == "Task_interview_customer"
    assert interview.properties["customerContact"] == "meeting"
    run.interview()
    assert run.variables["collected_requirements"] == ["single sign-on\nfast reports"]

    (organise,) = run.open_tasks()
    assert organise.candidate_groups == ("presales",)
    assert "single sign-on" in organise.documentation
    run.organise()
    variables = run.variables
    assert variables["revision"] == 1
    assert variables["merged_duplicates"] == 1
    assert [(r["id"], r["category"]) for r in variables["requirements"]] == [
        ("REQ-001", "functional"),
        ("REQ-002", "performance"),
        ("REQ-003", "interface"),
    ]
    assessments = run.open_tasks("Task_assess_requirement")
    assert len(assessments) == 3
    assert all(t.candidate_groups == ("presales",) for t in assessments)
    run.assess_all()

    # The decision table's priorities, ordered P1 first.
    requirements = run.variables["requirements"]
    assert [(r["id"], r["priority"]) for r in requirements] == [
        ("REQ-001", "P1"),
        ("REQ-002", "P3"),
        ("REQ-003", "P4"),
    ]
    assert run.variables["priority_counts"] == {"P1": 1, "P2": 0, "P3": 1, "P4": 1}
    (confirm,) = run.open_tasks()
    assert confirm.element_id == "Task_confirm_requirements"
    assert confirm.candidate_groups == ("customer",)
    assert confirm.properties["customerContact"] == "portal"
    assert "REQ-001 P1 [functional] Single sign-on" in confirm.documentation
    assert run.document_names() == ["需求清单 Requirement list — Plant ERP (rev. 1)"]

    clock.advance(days=2)
    run.confirm("confirmed")
    (write,) = run.open_tasks()
    assert (write.element_id, write.candidate_groups) == ("Task_write_specification", ("presales",))
    run.write_specification()

    assert run.state == "completed"
    assert run.ends_reached()["Event_requirements_confirmed"] == 1
    variables = run.variables
    specification = "需求说明书 Requirement specification — Plant ERP (rev. 1)"
    assert variables["requirement_document"] == specification
    assert variables["archive_no"] == "REQ-DC-1-R1"
    assert variables["archived_at"].startswith("2026-03-04")
    (document,) = [d for d in run.engine.documents(run.instance.id) if d.name == specification]
    assert document.element_id == "Task_render_specification"
    assert "## 3. 功能需求 Functional requirements" in document.content
    assert "(P1) Single sign-on: log in with the company account; asked twice" in document.content
    assert "Reports < 2 s at 200 users" in document.content
    assert "| REQ-002 | P3 | medium | medium | high |" in document.content


def test_collection__runs_one_task_per_channel_chosen(deployed):
    run = Driver(deployed)
    run.define_scope(collect_by_interview=True, collect_by_survey=True, collect_from_feedback=True)
    tasks = {t.element_id: t for t in run.open_tasks()}
    assert set(tasks) == {"Task_interview_customer", "Task_run_survey", "Task_review_feedback"}
    assert tasks["Task_run_survey"].properties == {"customerContact": "survey"}
    assert "customerContact" not in tasks["Task_review_feedback"].properties
    assert all(t.candidate_groups == ("presales",) for t in tasks.values())
    assert run.variables["channels"] == ["interview", "survey", "complaint_feedback"]

    run.complete("Task_review_feedback", {"collected_items": "invoices are late"})
    run.complete("Task_run_survey", {"collected_items": "mobile app"})
    assert run.open_elements() == Counter({"Task_interview_customer": 1})
    run.interview("single sign-on")

    # One entry per channel, in the channels' order, whatever order they finished in.
    assert run.variables["collected_requirements"] == [
        "single sign-on",
        "mobile app",
        "invoices are late",
    ]
    assert run.open_elements() == Counter({"Task_organise_requirements": 1})


def test_collection__falls_back_to_an_interview_when_no_channel_is_chosen(deployed):
    run = Driver(deployed)
    run.define_scope(collect_by_interview=False)
    assert run.variables["channels"] == ["interview"]
    assert run.open_elements() == Counter({"Task_interview_customer": 1})


def test_customer_requesting_changes__goes_back_to_organising_twice(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.confirm("changes_requested", "ERP export is not needed")
    assert run.open_elements() == Counter({"Task_organise_requirements": 1})
    assert "ERP export is not needed" in run.open_tasks()[0].documentation

    run.organise("functional | Single sign-on\n性能 | Report speed\nother | Mobile app\n")
    # Kept titles keep their ids; the new one gets the next free id.
    assert [r["id"] for r in run.variables["requirements"]] == ["REQ-001", "REQ-002", "REQ-004"]
    run.assess_all(
        {
            "Single sign-on": ("high", "high", "low"),
            "Report speed": ("high", "medium", "low"),
            "Mobile app": ("medium", "high", "high"),
        }
    )
    assert [r["priority"] for r in run.variables["requirements"]] == ["P1", "P1", "P2"]
    run.confirm("changes_requested", "and the ERP export after all")
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.write_specification()

    assert run.state == "completed"
    assert run.variables["revision"] == 3
    assert run.variables["requirement_document"].endswith("(rev. 3)")
    assert run.document_names() == [
        "需求实现计划 Implementation plan — Plant ERP (rev. 3)",
        "需求清单 Requirement list — Plant ERP (rev. 1)",
        "需求清单 Requirement list — Plant ERP (rev. 2)",
        "需求清单 Requirement list — Plant ERP (rev. 3)",
        "需求说明书 Requirement specification — Plant ERP (rev. 3)",
    ]
    assert run.ends_reached()["Event_requirements_confirmed"] == 1


def test_change_request__is_logged_assessed_and_sends_the_flow_back_to_organising(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()

    # First change arrives while the customer's confirmation (step 5) is open.
    run.request_change("add a mobile app")
    assert run.open_elements() == Counter(
        {"Task_confirm_requirements": 1, "Task_assess_change_impact": 1}
    )
    (assess,) = run.open_tasks("Task_assess_change_impact")
    assert assess.candidate_groups == ("presales",)
    assert "CR-1" in assess.documentation and "add a mobile app" in assess.documentation
    assert run.variables["change_pending"] is True
    run.assess_change("high")
    (entry,) = run.variables["change_log"]
    assert (entry["id"], entry["status"], entry["impact_level"]) == ("CR-1", "accepted", "high")
    assert entry["requested_by"] == "Mr Li"
    # The customer confirms, but the pending change sends the flow back to step 3.
    run.confirm("confirmed")
    assert run.open_elements() == Counter({"Task_organise_requirements": 1})
    assert "Change CR-1: add a mobile app" in run.open_tasks()[0].documentation
    run.round_to_confirmation()
    assert run.variables["change_pending"] is False
    run.confirm("confirmed")

    # Second change arrives while the specification (step 6) is being written.
    assert run.open_elements() == Counter({"Task_write_specification": 1})
    run.request_change("drop the ERP export")
    run.assess_change("low")
    run.write_specification()
    assert run.open_elements() == Counter({"Task_organise_requirements": 1})
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.write_specification()

    assert run.state == "completed"
    assert run.ends_reached() == Counter(
        {
            "Event_collection_done": 1,
            "Event_analysis_done": 9,
            "Event_change_assessed": 2,
            "Event_requirement_planned": 3,
            "Event_requirements_confirmed": 1,
        }
    )
    assert [(c["id"], c["impact_level"], c["revision"]) for c in run.variables["change_log"]] == [
        ("CR-1", "high", 1),
        ("CR-2", "low", 2),
    ]
    names = run.document_names()
    assert "需求变更记录 Change log — Plant ERP (1 changes)" in names
    assert "需求变更记录 Change log — Plant ERP (2 changes)" in names
    assert "需求说明书 Requirement specification — Plant ERP (rev. 2)" in names
    assert run.variables["requirement_document"].endswith("(rev. 3)")
    (log,) = [d for d in deployed.documents(run.instance.id) if d.name.endswith("(2 changes)")]
    assert "| CR-2 |" in log.content and "drop the ERP export" in log.content


def test_change_impact__goes_to_the_change_named__or_the_oldest_open_one(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.request_change("first change")
    run.request_change("second change")
    assessments = run.open_tasks("Task_assess_change_impact")
    assert len(assessments) == 2

    run.engine.claim(assessments[0].id, user=PRESALES)
    run.engine.complete(
        assessments[0].id,
        {
            "impact_level": "high",
            "impact_notes": "big",
            "change_id": "CR-2",
            "change_decision": "accept",
            "decision_reason": "needed",
        },
        user=PRESALES,
    )
    run.assess_change("low")  # no id: the oldest one not yet assessed
    log = {c["id"]: c["impact_level"] for c in run.variables["change_log"]}
    assert log == {"CR-1": "low", "CR-2": "high"}
    # Changes during collection are taken up by the first organised list.
    run.round_to_confirmation()
    assert run.variables["change_pending"] is False


def test_unanswered_confirmation__reminds_after_5_and_escalates_after_10_working_days(
    deployed, clock
):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()  # Monday 2 March 2026, 09:00
    variables = run.variables
    assert variables["confirmation_reminder_due"] == "2026-03-09T09:00:00+00:00"
    assert variables["confirmation_escalation_due"] == "2026-03-16T09:00:00+00:00"

    clock.advance(days=6, hours=23)  # Sunday evening: 4 working days only
    deployed.run_due_jobs()
    assert run.variables["confirmation_reminders"] == 0
    clock.advance(hours=1)  # Monday 9 March, 5 working days
    deployed.run_due_jobs()
    assert run.variables["confirmation_reminders"] == 1
    assert run.open_elements() == Counter({"Task_confirm_requirements": 1})
    assert run.ends_reached()["Event_reminder_sent"] == 1

    clock.advance(days=7)  # Monday 16 March, 10 working days
    deployed.run_due_jobs()
    assert run.open_elements() == Counter(
        {"Task_confirm_requirements": 1, "Task_follow_up_confirmation": 1}
    )
    (follow_up,) = run.open_tasks("Task_follow_up_confirmation")
    assert follow_up.assignee == ACCOUNT_OWNER
    assert follow_up.properties["customerContact"] == "call"
    run.complete(
        "Task_follow_up_confirmation", {"follow_up_notes": "answers on Friday"}, ACCOUNT_OWNER
    )
    assert run.ends_reached()["Event_escalation_handled"] == 1

    run.confirm("confirmed")
    assert deployed.jobs(instance_id=run.instance.id) == []
    run.write_specification()
    assert run.state == "completed"


def test_tasks__refuse_users_of_another_role(deployed):
    run = Driver(deployed)
    (scope,) = run.open_tasks()
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(scope.id, user=CUSTOMER)
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(scope.id, {"project_goals": "x", "deliverables": "y"}, user="sam")
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    (confirm,) = run.open_tasks()
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(confirm.id, user=PRESALES)
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(confirm.id, {"confirmation": "confirmed"}, user=PRESALES)


@pytest.mark.parametrize(
    ("importance", "urgency", "difficulty", "priority"),
    [
        ("high", "high", "high", "P1"),
        ("high", "medium", "low", "P1"),
        ("high", "medium", "high", "P2"),
        ("medium", "high", "medium", "P2"),
        ("medium", "medium", "low", "P2"),
        ("high", "low", "low", "P3"),
        ("medium", "medium", "high", "P3"),
        ("medium", "low", "medium", "P3"),
        ("medium", "low", "high", "P4"),
        ("low", "high", "low", "P3"),
        ("low", "high", "medium", "P4"),
        ("low", "low", "low", "P4"),
    ],
)
def test_requirement_priority__follows_importance_urgency_and_difficulty(
    deployed, importance, urgency, difficulty, priority
):
    result = deployed.evaluate_decision(
        "requirement_priority",
        {"importance": importance, "urgency": urgency, "difficulty": difficulty},
    )
    assert result == {"priority": priority}


def test_called_process__takes_the_customer_in_and_gives_the_requirements_back(deployed, tmp_path):
    caller = tmp_path / "dc_caller.bpmn"
    caller.write_text(_CALLER)
    deployed.deploy(caller)
    parent = deployed.start(
        "dc_caller",
        {
            "customer_id": "C-9",
            "customer_name": "Beta",
            "opportunity_id": "OPP-9",
            "opportunity_title": "MES",
            "account_owner": ACCOUNT_OWNER,
        },
        business_key="OPP-9",
    )
    (child,) = deployed.instances(parent_id=parent.id)
    run = Driver(deployed, "OPP-9", instance=child)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.request_change("one more report")  # correlates on the business key the child got
    run.assess_change()
    run.confirm("confirmed")
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.write_specification()

    assert run.state == "completed"
    parent_variables = deployed.instance(parent.id).variables
    assert parent_variables["requirement_document"].endswith("MES (rev. 2)")
    assert [r["priority"] for r in parent_variables["requirements"]] == ["P1", "P3", "P4"]
    assert {"id", "title", "category", "priority"} <= set(parent_variables["requirements"][0])
    assert "change_log" not in parent_variables


def test_parse_requirement_list__classifies_merges_and_keeps_ids():
    previous = [{"id": "REQ-002", "title": "Report speed"}]
    requirements, merged = demand_confirmation.parse_requirement_list(
        "界面 | Dark mode\n\nperformance | Report speed | < 2 s\n  Report   SPEED  \n"
        "weird | Thing\nJust a title\n",
        previous,
    )
    assert merged == 1
    assert requirements == [
        {"id": "REQ-003", "title": "Dark mode", "category": "usability", "description": ""},
        {
            "id": "REQ-002",
            "title": "Report speed",
            "category": "performance",
            "description": "< 2 s",
        },
        {"id": "REQ-004", "title": "Thing", "category": "other", "description": ""},
        {"id": "REQ-005", "title": "Just a title", "category": "functional", "description": ""},
    ]


_CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://x">
  <bpmn:process id="dc_caller" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:callActivity id="Call_demand" calledElement="demand_confirmation">
      <bpmn:extensionElements>
        <camunda:in businessKey="#{execution.processBusinessKey}" />
        <camunda:in source="customer_id" target="customer_id" />
        <camunda:in source="customer_name" target="customer_name" />
        <camunda:in source="opportunity_id" target="opportunity_id" />
        <camunda:in source="opportunity_title" target="opportunity_title" />
        <camunda:in source="account_owner" target="account_owner" />
        <camunda:out source="requirements" target="requirements" />
        <camunda:out source="requirement_document" target="requirement_document" />
      </bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:userTask id="Task_next" camunda:candidateGroups="presales" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Call_demand" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_demand" targetRef="Task_next" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_undecided_change__holds_the_confirmation_until_it_is_decided(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.request_change("late change")  # not decided yet
    run.write_specification()  # the pending change sends it back to organising
    run.round_to_confirmation()
    run.confirm("confirmed")  # still undecided: organise again
    assert run.open_elements() == Counter(
        {"Task_organise_requirements": 1, "Task_assess_change_impact": 1}
    )
    run.assess_change(decision="reject")
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.write_specification()

    assert run.state == "completed"
    assert run.ends_reached()["Event_requirements_confirmed"] == 1


def test_rule_000_change_request_rejected__requirements_stay_and_the_flow_goes_on(deployed):
    """需求变更管理 (seed 000): a change is assessed, then accepted or rejected; only an
    accepted change sends the requirements back to organising."""
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.request_change("add a mobile app")
    assess = run.open_tasks("Task_assess_change_impact")[0]
    with pytest.raises(flowdesk.FormValidationError):  # a decision and its reason are required
        run.engine.complete(assess.id, {"impact_level": "high", "impact_notes": "x"}, user=PRESALES)
    run.assess_change("high", decision="reject")
    (entry,) = run.variables["change_log"]
    assert (entry["status"], entry["decision_reason"]) == (
        "rejected",
        "reject: agreed with the customer",
    )
    assert run.variables["change_pending"] is False
    run.confirm("confirmed")  # no loop back: straight to the specification
    assert run.open_elements() == Counter({"Task_write_specification": 1})
    run.write_specification()
    assert run.state == "completed"
    assert run.variables["revision"] == 1
    (log,) = [d for d in deployed.documents(run.instance.id) if d.name.startswith("需求变更记录")]
    assert "| rejected |" in log.content and "reject: agreed with the customer" in log.content


def test_rule_000_change_request_accepted__requirements_are_organised_again(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.request_change("add a mobile app")
    run.assess_change("high", decision="accept")
    assert run.variables["change_pending"] is True
    run.confirm("confirmed")
    assert run.open_elements() == Counter({"Task_organise_requirements": 1})
    assert "Change CR-1: add a mobile app (accepted)" in run.open_tasks()[0].documentation
    run.round_to_confirmation()
    assert run.variables["change_log"][0]["status"] == "taken_up"
    assert run.variables["change_pending"] is False


def test_rule_001_implementation_plan__date_department_and_person_per_requirement(deployed):
    run = Driver(deployed)
    run.define_scope()
    run.interview()
    run.round_to_confirmation()
    run.confirm("confirmed")
    run.write_specification(plan=False)

    plans = run.open_tasks("Task_plan_requirement")
    assert len(plans) == 3 and all(t.candidate_groups == ("presales",) for t in plans)
    assert run.state == "running"  # not archived before every requirement is planned
    with pytest.raises(flowdesk.FormValidationError) as refused:
        run.engine.complete(plans[0].id, {"planned_date": "2026-04-30"}, user=PRESALES)
    assert set(refused.value.errors) == {"responsible_department", "responsible_person"}
    run.plan_implementation()

    assert run.state == "completed"
    plan = run.variables["implementation_plan"]
    assert sorted((p["id"], p["responsible_department"]) for p in plan) == [
        ("REQ-001", "research"),
        ("REQ-002", "research"),
        ("REQ-003", "research"),
    ]
    assert all(p["planned_date"] and p["responsible_person"] for p in plan)
    (document,) = [
        d for d in deployed.documents(run.instance.id) if d.name.startswith("需求实现计划")
    ]
    assert (
        "| 实现时间 Implemented by | 责任部门 Department | 负责人 Responsible |" in document.content
    )
    assert "engineer 1" in document.content and "2026-04-30" in document.content
