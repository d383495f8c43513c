"""The consulting engagement process (管理咨询的工作流程), walked path by path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import flowdesk
import flowdesk.processes
from flowdesk.processes import consulting_engagement

KEY = consulting_engagement.KEY
BPMN = Path(__file__).parents[2] / "bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

USER_OF = {"consultant": "connie", "consultant_manager": "carl", "customer": "cathy"}
"""Who does the work of each group in these tests."""

# Each user task: its candidate group and its customerContact channel (None: no contact).
TASKS: dict[str, tuple[str, str | None]] = {
    "Task_initial_contact": ("consultant", "visit"),
    "Task_discuss_goals": ("consultant", "meeting"),
    "Task_draft_framework": ("consultant", None),
    "Task_site_visit": ("consultant", "visit"),
    "Task_agree_framework": ("consultant", "meeting"),
    "Task_write_proposal": ("consultant", None),
    "Task_discuss_proposal": ("customer", "portal"),
    "Task_sign_contract": ("consultant_manager", "meeting"),
    "Task_form_leadership_group": ("consultant_manager", "meeting"),
    "Task_agree_project_plan": ("consultant_manager", "meeting"),
    "Task_form_working_group": ("consultant_manager", "meeting"),
    "Task_train_working_group": ("consultant", "meeting"),
    "Task_department_briefings": ("consultant", "meeting"),
    "Task_consent_to_surveys": ("customer", "portal"),
    "Task_questionnaire_survey": ("consultant", "survey"),
    "Task_key_interviews": ("consultant", "meeting"),
    "Task_workshops": ("consultant", "meeting"),
    "Task_competitor_research": ("consultant", None),
    "Task_diagnose": ("consultant", None),
    "Task_submit_diagnostic_report": ("consultant", "meeting"),
    "Task_initial_design": ("consultant", None),
    "Task_present_topic": ("consultant", "meeting"),
    "Task_review_design": ("customer", "portal"),
    "Task_adjust_design": ("consultant", None),
    "Task_outline_implementation": ("consultant", None),
    "Task_write_final_report": ("consultant_manager", None),
    "Task_release_meeting": ("consultant_manager", "meeting"),
    "Task_train_staff": ("consultant", "meeting"),
    "Task_train_management": ("consultant_manager", "meeting"),
    "Task_support_implementation": ("consultant", "meeting"),
    "Task_implementation_feedback": ("customer", "portal"),
    "Task_analyse_feedback": ("consultant", "meeting"),
    "Task_propose_new_project": ("consultant_manager", "meeting"),
    "Task_file_records": ("consultant", None),
    "Task_write_service_summary": ("consultant_manager", None),
    "Task_satisfaction_survey": ("consultant", "survey"),
}

# What each task is completed with unless a test says otherwise.
DATA: dict[str, dict[str, Any]] = {
    "Task_initial_contact": {
        "customer_needs": "Slow order handling across departments",
        "next_meeting": "Goals workshop, Monday 10:00, customer HQ",
    },
    "Task_discuss_goals": {"customer_goals": "Halve the order lead time"},
    "Task_draft_framework": {
        "situation_analysis": "Functional silos, no process owner",
        "project_framework": "Process redesign in three waves",
    },
    "Task_site_visit": {"site_visit_date": "2026-03-04", "site_findings": "Paper hand-offs"},
    "Task_agree_framework": {
        "project_goals": "Order lead time from 20 to 10 days",
        "project_framework": "Diagnosis, redesign, implementation support",
    },
    "Task_write_proposal": {
        "proposal_content": "Order-to-delivery process redesign",
        "execution_plan": "Joint working group, weekly steering",
        "timeline": "16 weeks",
        "budget": 480000,
    },
    "Task_discuss_proposal": {"proposal_decision": "accept"},
    "Task_sign_contract": {
        "contract_no": "CC-2026-017",
        "contract_amount": 450000,
        "signed_on": "2026-03-10",
    },
    "Task_form_leadership_group": {
        "leadership_group": "CEO Wang, COO Li; partner Carl",
        "customer_project_lead": "COO Li",
        "consultant_project_lead": "carl",
    },
    "Task_agree_project_plan": {
        "project_plan": "Diagnosis 4 weeks, design 6, support 6",
        "planned_start": "2026-03-16",
        "planned_end": "2026-07-03",
    },
    "Task_form_working_group": {
        "working_group": "Sales, production, logistics leads; Connie",
        "investigation_plan": "Briefings, survey, interviews, workshops",
    },
    "Task_train_working_group": {
        "working_group_training_date": "2026-03-17",
        "working_group_trained": 8,
    },
    "Task_department_briefings": {
        "departments_heard": "Sales, production, logistics",
        "problems_reported": "Orders wait for manual credit checks",
    },
    "Task_consent_to_surveys": {"survey_consent": True},
    "Task_questionnaire_survey": {
        "questionnaires_returned": 120,
        "questionnaire_findings": "Staff see unclear responsibilities",
    },
    "Task_key_interviews": {
        "interviews_held": 12,
        "interview_findings": "Managers want one order owner",
    },
    "Task_workshops": {"workshop_opinions": "Automate credit checks"},
    "Task_competitor_research": {
        "competitor_findings": "Competitor delivers in 8 days",
        "value_chain_findings": "Suppliers wait for forecasts",
    },
    "Task_diagnose": {
        "problem_categories": "organisation, process, IT",
        "diagnosis": "No end-to-end ownership of orders",
        "improvement_framework": "Order owner role, automated credit check",
    },
    "Task_submit_diagnostic_report": {"diagnosis_feedback": "Agreed; start with credit checks"},
    "Task_initial_design": {
        "solution_summary": "Order desk with one owner per order",
        "design_topics": "Organisation, Processes",
    },
    "Task_present_topic": {"presented_to": "Sales, production", "presentation_feedback": "Fine"},
    "Task_review_design": {"design_decision": "accept"},
    "Task_adjust_design": {
        "adjustments": "Credit check moved to finance",
        "solution_summary": "Order desk; finance owns credit checks",
    },
    "Task_outline_implementation": {"implementation_outline": "Pilot in region East, then all"},
    "Task_write_final_report": {
        "final_recommendations": "Create the order desk in Q3",
        "expected_benefits": "Lead time 10 days",
    },
    "Task_release_meeting": {"release_date": "2026-05-29"},
    "Task_train_staff": {"staff_trained": 40, "staff_training_topics": "Order desk routine"},
    "Task_train_management": {
        "managers_trained": 9,
        "management_training_topics": "Steering by lead time",
    },
    "Task_support_implementation": {"support_given": "Weekly clinic at the order desk"},
    "Task_implementation_feedback": {"support_decision": "close"},
    "Task_analyse_feedback": {
        "feedback_analysis": "Hand-over rules unclear",
        "agreed_solution": "Written hand-over checklist",
    },
    "Task_propose_new_project": {
        "management_weaknesses": "Purchasing is not planned",
        "follow_up_proposed": False,
    },
    "Task_file_records": {"records_archive": "DMS /consulting/C-ACME/2026"},
    "Task_write_service_summary": {
        "service_summary": "Lead time down to 11 days",
        "lessons_learned": "Start the working group training earlier",
    },
    "Task_satisfaction_survey": {"satisfaction": 5, "survey_comments": "Very useful"},
}


def topic_of(task: flowdesk.Task) -> str:
    """The topic a presentation task is about, as its documentation tells the consultant."""
    return task.documentation.split(" — ")[1].split(" (")[0]


class Engagement:
    """Drives one engagement instance through the public API, checking each task it does."""

    def __init__(
        self,
        engine: flowdesk.Engine,
        instance_id: str,
        *,
        restart: Callable[[], flowdesk.Engine] | None = None,
    ) -> None:
        self.engine = engine
        self.id = instance_id
        self.restart = restart  # when given, each task is completed on a new engine

    @property
    def instance(self) -> flowdesk.ProcessInstance:
        return self.engine.instance(self.id)

    @property
    def variables(self) -> dict[str, Any]:
        return self.instance.variables

    def open_tasks(self) -> list[str]:
        return sorted(t.element_id for t in self.engine.tasks(instance_id=self.id))

    def task(self, element_id: str) -> flowdesk.Task:
        tasks = [t for t in self.engine.tasks(instance_id=self.id) if t.element_id == element_id]
        assert len(tasks) == 1, (element_id, self.open_tasks())
        return tasks[0]

    def do(self, element_id: str, **data: Any) -> flowdesk.ProcessInstance:
        """Claim and complete the one open task `element_id` as a user of its group."""
        return self._complete(self.task(element_id), data)

    def present_topics(self, feedback: Callable[[str], str] = lambda topic: "Fine") -> list[str]:
        """Complete each topic's presentation (multi-instance); returns the topics presented."""
        tasks = [
            t
            for t in self.engine.tasks(instance_id=self.id)
            if t.element_id == "Task_present_topic"
        ]
        topics = [topic_of(t) for t in tasks]
        assert sorted(topics) == sorted(self.variables["design_topic_list"])
        for task, topic in zip(tasks, topics, strict=True):
            self._complete(task, {"presentation_feedback": feedback(topic)})
        return topics

    def _complete(self, task: flowdesk.Task, data: dict[str, Any]) -> flowdesk.ProcessInstance:
        if self.restart is not None:
            self.engine.close()
            self.engine = self.restart()
            task = self.engine.task(task.id)
        group, channel = TASKS[task.element_id]
        assert task.candidate_groups == (group,), task.element_id
        assert task.properties.get("customerContact") == channel, task.element_id
        user = USER_OF[group]
        self.engine.claim(task.id, user=user)
        instance = self.engine.complete(task.id, {**DATA[task.element_id], **data}, user=user)
        assert instance.state != "incident", instance.incident
        return instance

    def ends(self) -> list[str]:
        """The end events reached, in order."""
        return [
            e.element_id or ""
            for e in self.engine.history(self.id)
            if e.type == "activity_completed" and e.data.get("kind") == "EndEvent"
        ]

    def documents(self) -> dict[str, str]:
        return {d.name: d.content for d in self.engine.documents(self.id)}

    # -- the phases ------------------------------------------------------------------------

    def first_proposal(self) -> None:
        """Initial contact (unless a follow-up) to the first proposal, written."""
        if not self.variables["previous_engagement"]:
            self.do("Task_initial_contact")
        for element_id in (
            "Task_discuss_goals",
            "Task_draft_framework",
            "Task_site_visit",
            "Task_agree_framework",
        ):
            self.do(element_id)
        self.do("Task_write_proposal", changes_made="changes of revision 1")

    def intake(self, *decisions: dict[str, Any]) -> None:
        """Initial contact to the customer's last decision on the proposal (default: accept)."""
        self.first_proposal()
        for revision, decision in enumerate(decisions or ({},), start=1):
            if revision > 1:
                self.do("Task_write_proposal", changes_made=f"changes of revision {revision}")
            self.do("Task_discuss_proposal", **decision)
        if self.variables["proposal_decision"] == "accept":
            self.do("Task_sign_contract")

    def kickoff(self) -> None:
        for element_id in (
            "Task_form_leadership_group",
            "Task_agree_project_plan",
            "Task_form_working_group",
            "Task_train_working_group",
        ):
            self.do(element_id)

    def investigation(self, *, consent: bool = True) -> None:
        self.do("Task_department_briefings")
        self.do("Task_consent_to_surveys", survey_consent=consent)
        if consent:
            assert self.open_tasks() == ["Task_key_interviews", "Task_questionnaire_survey"]
            self.do("Task_questionnaire_survey")
            assert self.open_tasks() == ["Task_key_interviews"]
            self.do("Task_key_interviews")
        for element_id in (
            "Task_workshops",
            "Task_competitor_research",
            "Task_diagnose",
            "Task_submit_diagnostic_report",
        ):
            self.do(element_id)

    def solution_design(self, *feedback: str) -> None:
        """Present, then one adjustment round per `feedback`, then acceptance and release."""
        self.do("Task_initial_design")
        for text in feedback:
            self.present_topics()
            self.do("Task_review_design", design_decision="adjust", design_feedback=text)
            self.do("Task_adjust_design")
        self.present_topics()
        self.do("Task_review_design")
        for element_id in (
            "Task_outline_implementation",
            "Task_write_final_report",
            "Task_release_meeting",
        ):
            self.do(element_id)

    def support(self, *feedback: str, follow_up_topic: str | None = None) -> None:
        """Training, one answered round per `feedback`, closing, then the new project proposal."""
        assert self.open_tasks() == ["Task_train_management", "Task_train_staff"]
        self.do("Task_train_management")
        self.do("Task_train_staff")
        for text in feedback:
            self.do("Task_support_implementation")
            self.do(
                "Task_implementation_feedback",
                support_decision="feedback",
                implementation_feedback=text,
            )
            self.do("Task_analyse_feedback")
        self.do("Task_support_implementation")
        self.do("Task_implementation_feedback", implementation_feedback="All running")
        if follow_up_topic is None:
            self.do("Task_propose_new_project")
        else:
            self.do(
                "Task_propose_new_project",
                follow_up_proposed=True,
                follow_up_topic=follow_up_topic,
            )

    def close_service(self) -> None:
        for element_id in (
            "Task_file_records",
            "Task_write_service_summary",
            "Task_satisfaction_survey",
        ):
            self.do(element_id)


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(BPMN / "consulting_engagement.bpmn")
    return engine


def new_engagement(engine: flowdesk.Engine, customer_id: str = "C-ACME") -> Engagement:
    instance = consulting_engagement.start(
        engine,
        customer_id=customer_id,
        customer_name="Acme Machinery",
        engagement_topic="Order-to-delivery process",
        contact_person="COO Li",
        user="connie",
    )
    return Engagement(engine, instance.id)


def signed_engagement(engine: flowdesk.Engine) -> Engagement:
    engagement = new_engagement(engine)
    engagement.intake()
    engagement.kickoff()
    return engagement


def supported_engagement(engine: flowdesk.Engine) -> Engagement:
    engagement = signed_engagement(engine)
    engagement.investigation()
    engagement.solution_design()
    return engagement


def test_engagement_runs_every_phase_to_service_closed__engine_restarted_at_each_wait(
    new_engine,
):
    first = new_engine()
    first.deploy(BPMN / "consulting_engagement.bpmn")
    engagement = Engagement(first, new_engagement(first).id, restart=new_engine)
    assert engagement.open_tasks() == ["Task_initial_contact"]
    engagement.intake()
    engagement.kickoff()
    engagement.investigation()
    engagement.solution_design()
    engagement.support()
    engagement.close_service()

    engine = new_engine()
    instance = engine.instance(engagement.id)
    assert instance.state == "completed"
    assert instance.business_key == "consulting-C-ACME"
    ends = [
        e.element_id
        for e in engine.history(engagement.id)
        if e.type == "activity_completed" and e.data.get("kind") == "EndEvent"
    ]
    assert ends == [
        "Event_intake_contract_signed",
        "Event_kickoff_done",
        "Event_investigation_done",
        "Event_solution_design_done",
        "Event_support_done",
        "Event_close_service_done",
        "Event_service_closed",
    ]
    number = instance.variables["engagement_no"]
    documents = engine.documents(engagement.id)
    assert [d.name for d in documents] == [
        f"Project proposal {number} rev 1",
        f"Diagnostic report {number}",
        f"Final report {number}",
        f"Service summary {number}",
    ]
    assert instance.variables["documents"] == [d.name for d in documents]
    assert {d.media_type for d in documents} == {"text/markdown"}
    summary = documents[-1].content
    assert summary.startswith("# 服务总结 Service summary")
    assert "CC-2026-017, 450,000 CNY" in summary
    assert "No follow-up project proposed" in summary
    # The customer contacts, as customers.py reads them from completed tasks.
    contacts = [
        (t.element_id, t.properties["customerContact"])
        for t in engine.tasks(instance_id=engagement.id, state="completed")
        if "customerContact" in t.properties
    ]
    assert ("Task_site_visit", "visit") in contacts
    assert ("Task_satisfaction_survey", "survey") in contacts
    assert len(contacts) == 26


def test_proposal_change_requests_loop_back_to_the_proposal__twice__then_contract_signed(
    deployed,
):
    engagement = new_engagement(deployed)
    engagement.intake(
        {"proposal_decision": "change", "change_requests": "Cut the budget"},
        {"proposal_decision": "change", "change_requests": "Add a purchasing module"},
        {"proposal_decision": "accept"},
    )

    assert engagement.open_tasks() == ["Task_form_leadership_group"]
    number = engagement.variables["engagement_no"]
    assert engagement.variables["proposal_revision"] == 3
    documents = engagement.documents()
    assert list(documents) == [f"Project proposal {number} rev {n}" for n in (1, 2, 3)]
    assert "Cut the budget" not in documents[f"Project proposal {number} rev 1"]
    third = documents[f"Project proposal {number} rev 3"]
    assert third.startswith("# 项目建议书 Project proposal")
    assert "| Revision 版本 | 3 |" in third
    assert "Add a purchasing module" in third
    assert "changes of revision 3" in third
    assert "480,000 CNY" in third
    assert engagement.ends() == ["Event_intake_contract_signed"]


def test_proposal_writer_sees_the_customers_change_requests(deployed):
    engagement = new_engagement(deployed)
    engagement.first_proposal()
    discussion = engagement.task("Task_discuss_proposal")
    assert "rev 1" in discussion.documentation
    assert "budget 480000 CNY" in discussion.documentation

    engagement.do(
        "Task_discuss_proposal", proposal_decision="change", change_requests="Fewer weeks"
    )

    rewrite = engagement.task("Task_write_proposal")
    assert "changes to revision 1: Fewer weeks" in rewrite.documentation


def test_declined_proposal__ends_the_engagement_at_proposal_declined(deployed):
    engagement = new_engagement(deployed)
    engagement.intake(
        {"proposal_decision": "change", "change_requests": "Cut the budget"},
        {"proposal_decision": "decline", "decline_reason": "Budget frozen"},
    )

    instance = engagement.instance
    assert instance.state == "completed"
    assert engagement.open_tasks() == []
    assert engagement.ends() == ["Event_intake_proposal_declined", "Event_proposal_declined"]
    assert instance.variables["decline_reason"] == "Budget frozen"
    assert len(engagement.documents()) == 2  # both revisions stay on record


def test_questionnaires_and_interviews_run_in_parallel__when_the_customer_consents(deployed):
    engagement = signed_engagement(deployed)

    engagement.investigation(consent=True)

    assert engagement.open_tasks() == ["Task_initial_design"]
    assert engagement.ends()[-1] == "Event_investigation_done"
    report = engagement.documents()[f"Diagnostic report {engagement.variables['engagement_no']}"]
    assert report.startswith("# 诊断报告 Diagnostic report")
    assert "Questionnaires returned 回收问卷: 120" in report
    assert "Key interviews held 重点访谈: 12" in report
    assert "No end-to-end ownership of orders" in report


def test_questionnaires_and_interviews_are_skipped__without_the_customers_consent(deployed):
    engagement = signed_engagement(deployed)

    engagement.investigation(consent=False)

    completed = {t.element_id for t in deployed.tasks(instance_id=engagement.id, state=None)}
    assert "Task_questionnaire_survey" not in completed
    assert "Task_key_interviews" not in completed
    assert "questionnaires_returned" not in engagement.variables
    report = engagement.documents()[f"Diagnostic report {engagement.variables['engagement_no']}"]
    assert "the customer did not consent" in report


def test_solution_design_is_presented_per_topic_and_adjusted__twice__until_accepted(deployed):
    engagement = signed_engagement(deployed)
    engagement.investigation()
    engagement.do("Task_initial_design", design_topics="Organisation, Processes、 IT, Processes")
    assert engagement.variables["design_topic_list"] == ["Organisation", "Processes", "IT"]

    for round_no, feedback in ((1, "Finance must own credit checks"), (2, "Keep the old ERP")):
        documentation = [t.documentation for t in deployed.tasks(instance_id=engagement.id)]
        assert sorted(documentation) == sorted(
            f"初步方案分专题向有关部门进行详细介绍, 回答有关问题, 听取修改补充意见 — {topic} "
            f"(Acme Machinery, round {round_no})"
            for topic in ("Organisation", "Processes", "IT")
        )
        engagement.present_topics(lambda topic, n=round_no: f"{topic} feedback {n}")
        engagement.do("Task_review_design", design_decision="adjust", design_feedback=feedback)
        assert feedback in engagement.task("Task_adjust_design").documentation
        engagement.do("Task_adjust_design")

    assert engagement.variables["design_round"] == 3
    engagement.present_topics(lambda topic: f"{topic} agreed")
    engagement.do("Task_review_design", design_decision="accept")
    for element_id in ("Task_outline_implementation", "Task_write_final_report"):
        engagement.do(element_id)

    assert engagement.open_tasks() == ["Task_release_meeting"]
    assert engagement.variables["topic_feedback"] == [
        "Organisation agreed",
        "Processes agreed",
        "IT agreed",
    ]
    report = engagement.documents()[f"Final report {engagement.variables['engagement_no']}"]
    assert report.startswith("# 最终报告 Final report")
    assert "| Design rounds 方案征求意见轮次 | 3 |" in report
    assert "| Processes | Processes agreed |" in report
    assert "Order desk; finance owns credit checks" in report
    engagement.do("Task_release_meeting")
    assert engagement.ends()[-1] == "Event_solution_design_done"


def test_staff_and_management_training_run_in_parallel(deployed):
    engagement = supported_engagement(deployed)

    assert engagement.open_tasks() == ["Task_train_management", "Task_train_staff"]
    engagement.do("Task_train_staff")
    assert engagement.open_tasks() == ["Task_train_management"]
    engagement.do("Task_train_management")
    assert engagement.open_tasks() == ["Task_support_implementation"]


def test_implementation_support_answers_feedback__twice__until_the_customer_closes_it(
    deployed, clock
):
    engagement = supported_engagement(deployed)

    engagement.support("Hand-over is unclear", "Reports come late")

    assert engagement.open_tasks() == ["Task_file_records"]
    log = engagement.variables["feedback_log"]
    assert [(e["round"], e["decision"], e["feedback"]) for e in log] == [
        (1, "feedback", "Hand-over is unclear"),
        (2, "feedback", "Reports come late"),
        (3, "close", "All running"),
    ]
    assert log[0]["on"] == clock.now.date().isoformat()
    completed = deployed.tasks(instance_id=engagement.id, state="completed")
    assert sum(t.element_id == "Task_support_implementation" for t in completed) == 3
    assert sum(t.element_id == "Task_analyse_feedback" for t in completed) == 2
    assert deployed.instances(key=KEY) == [engagement.instance]  # no follow-up proposed

    engagement.close_service()
    summary = engagement.documents()[f"Service summary {engagement.variables['engagement_no']}"]
    assert "| 2 | " in summary and "Reports come late" in summary
    assert engagement.ends()[-2:] == ["Event_close_service_done", "Event_service_closed"]


def test_new_project_proposal_starts_a_follow_up_engagement_with_the_payload(deployed):
    engagement = supported_engagement(deployed)

    engagement.support(follow_up_topic="Purchasing planning")

    thrown = [e for e in deployed.history(engagement.id) if e.type == "message_thrown"]
    assert len(thrown) == 1
    assert thrown[0].data["name"] == "consulting_proposal"
    assert thrown[0].data["variables"] == {
        "customer_id": "C-ACME",
        "customer_name": "Acme Machinery",
        "engagement_topic": "Purchasing planning",
        "previous_engagement": engagement.id,
    }
    follow_up = Engagement(deployed, thrown[0].data["delivered_to"])
    assert follow_up.id != engagement.id
    instance = follow_up.instance
    assert instance.key == KEY
    assert instance.business_key == engagement.instance.business_key == "consulting-C-ACME"
    assert instance.variables["previous_engagement"] == engagement.id
    assert instance.variables["engagement_topic"] == "Purchasing planning"
    assert instance.variables["engagement_no"] != engagement.variables["engagement_no"]
    assert "message_correlated" in [e.type for e in deployed.history(follow_up.id)]
    # An existing customer: the follow-up starts at the goals discussion, not a first contact.
    assert follow_up.open_tasks() == ["Task_discuss_goals"]
    assert (
        f"follow-up of engagement {engagement.id}"
        in follow_up.task("Task_discuss_goals").documentation
    )

    # The two engagements go on independently.
    assert engagement.open_tasks() == ["Task_file_records"]
    engagement.close_service()
    assert engagement.instance.state == "completed"
    follow_up.intake()
    assert follow_up.open_tasks() == ["Task_form_leadership_group"]
    assert {i.id for i in deployed.instances(key=KEY, business_key="consulting-C-ACME")} == {
        engagement.id,
        follow_up.id,
    }


def test_new_project_proposal_is_not_delivered_to_other_running_engagements(deployed):
    other_customer = new_engagement(deployed, customer_id="C-BETA")
    engagement = supported_engagement(deployed)
    same_customer = new_engagement(deployed)  # a parallel engagement of the same customer
    before = {e.id: e.variables for e in (other_customer, same_customer)}

    engagement.support(follow_up_topic="Purchasing planning")

    instances = deployed.instances(key=KEY)
    assert len(instances) == 4
    (follow_up,) = [i for i in instances if i.id not in {*before, engagement.id}]
    assert follow_up.variables["previous_engagement"] == engagement.id
    for bystander in (other_customer, same_customer):
        assert bystander.variables == before[bystander.id]
        assert bystander.open_tasks() == ["Task_initial_contact"]
        assert "message_correlated" not in [e.type for e in deployed.history(bystander.id)]


def test_an_application_can_start_a_follow_up_engagement_by_message(deployed):
    instance = deployed.correlate(
        "consulting_proposal",
        business_key=consulting_engagement.business_key_for("C-ACME"),
        variables={
            "customer_id": "C-ACME",
            "customer_name": "Acme Machinery",
            "engagement_topic": "Purchasing planning",
            "previous_engagement": "an-earlier-engagement",
        },
    )

    engagement = Engagement(deployed, instance.id)
    assert instance.business_key == "consulting-C-ACME"
    assert engagement.open_tasks() == ["Task_discuss_goals"]
    assert engagement.variables["previous_engagement"] == "an-earlier-engagement"


def test_a_user_without_the_tasks_role_can_neither_claim_nor_complete_it(deployed):
    engagement = new_engagement(deployed)
    contact = engagement.task("Task_initial_contact")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(contact.id, user="cathy")  # the customer
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(contact.id, DATA["Task_initial_contact"], user="sam")  # sales
    engagement.first_proposal()

    discussion = engagement.task("Task_discuss_proposal")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.complete(discussion.id, {"proposal_decision": "accept"}, user="connie")
    engagement.do("Task_discuss_proposal")

    contract = engagement.task("Task_sign_contract")
    with pytest.raises(flowdesk.NotAuthorized):
        deployed.claim(contract.id, user="connie")  # a consultant, not the project lead
    assert deployed.task(contract.id).assignee is None


@pytest.mark.parametrize(
    ("element_id", "data", "field"),
    [
        ("Task_discuss_proposal", {"proposal_decision": "change"}, "change_requests"),
        ("Task_discuss_proposal", {"proposal_decision": "decline"}, "decline_reason"),
    ],
)
def test_a_customer_answer_that_needs_a_reason_is_refused_without_one(
    deployed, element_id, data, field
):
    engagement = new_engagement(deployed)
    engagement.first_proposal()

    task = engagement.task(element_id)
    with pytest.raises(flowdesk.FormValidationError) as refused:
        deployed.complete(task.id, {**data, field: "  "}, user="cathy")

    assert list(refused.value.errors) == [field]
    assert engagement.open_tasks() == [element_id]


def test_design_review_support_feedback_and_follow_up_need_their_details(deployed):
    engagement = signed_engagement(deployed)
    engagement.investigation()
    with pytest.raises(flowdesk.FormValidationError) as refused:
        deployed.complete(
            engagement.task("Task_initial_design").id,
            {**DATA["Task_initial_design"], "design_topics": " , ,"},
            user="connie",
        )
    assert list(refused.value.errors) == ["design_topics"]
    engagement.do("Task_initial_design")
    engagement.present_topics()
    with pytest.raises(flowdesk.FormValidationError):
        deployed.complete(
            engagement.task("Task_review_design").id, {"design_decision": "adjust"}, user="cathy"
        )
    engagement.do("Task_review_design")
    for element_id in (
        "Task_outline_implementation",
        "Task_write_final_report",
        "Task_release_meeting",
        "Task_train_staff",
        "Task_train_management",
        "Task_support_implementation",
    ):
        engagement.do(element_id)
    with pytest.raises(flowdesk.FormValidationError):
        deployed.complete(
            engagement.task("Task_implementation_feedback").id,
            {"support_decision": "feedback"},
            user="cathy",
        )
    engagement.do("Task_implementation_feedback")
    with pytest.raises(flowdesk.FormValidationError) as refused:
        deployed.complete(
            engagement.task("Task_propose_new_project").id,
            {"management_weaknesses": "Purchasing", "follow_up_proposed": True},
            user="carl",
        )
    assert list(refused.value.errors) == ["follow_up_topic"]


def test_every_user_task_has_the_role_and_customer_contact_channel_the_tests_expect():
    tree = etree.parse(str(BPMN / "consulting_engagement.bpmn"))
    found = {}
    for task in tree.iter(f"{{{BPMN_NS}}}userTask"):
        channels = [
            p.get("value")
            for p in task.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/*")
            if p.get("name") == "customerContact"
        ]
        found[task.get("id")] = (
            task.get(f"{{{CAMUNDA_NS}}}candidateGroups"),
            channels[0] if channels else None,
        )

    assert found == TASKS
