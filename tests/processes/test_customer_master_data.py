"""Customer master data and its rules (seed 003, 客户管理制度 1.2-1.7), through the public API.

Each test is named after the rule it checks: the master record a filed customer gets, the
second contact of a key customer, the 5-working-day 《客户信息维护表》, the contact records,
the status from new to signed, the hand-over when an employee leaves (later tasks follow the
customer's owner, the customer is told), and the archive confidentiality the engine enforces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

import flowdesk
from flowdesk.cli import main
from flowdesk.processes import customers

from .test_presales import ACCOUNT_OWNER, Opportunity, act, deploy

SUCCESSOR = "sally"


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    for file_name in (
        "customer_record.bpmn",
        "customer_archive_access.bpmn",
        "demand_confirmation.bpmn",
        "order_review.bpmn",
        "presales.bpmn",
    ):
        deploy(engine, file_name)
    return engine


def open_key_account(engine: flowdesk.Engine, **overrides: object) -> customers.CustomerRecord:
    values: dict[str, object] = {
        "customer_id": "CUS-7",
        "customer_name": "Huadong Coatings",
        "department": "sales",
        "owner": "sam",
        "category": "general",
        "address": "上海市浦东新区 88 号",
        "contact_person": "王经理",
        "contact_phone": "021-5555-0101",
    }
    values.update(overrides)
    return customers.open_record(engine, **values)  # type: ignore[arg-type]


def record_tasks(engine: flowdesk.Engine, customer_id: str = "CUS-7") -> list[flowdesk.Task]:
    found = customers.record(engine, customer_id)
    assert found is not None
    return engine.tasks(instance_id=found.instance_id)


def one_task(engine: flowdesk.Engine, element_id: str) -> flowdesk.Task:
    matching = [t for t in engine.tasks() if t.element_id == element_id]
    assert len(matching) == 1, [t.element_id for t in engine.tasks()]
    return matching[0]


# -- 客户存档/备案: a filed customer has a master record ----------------------------------------


def test_new_customer_filed_in_presales__opens_its_master_record_owned_by_the_account_owner(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = Opportunity.start(deployed)
    assert customers.record(deployed, "CUS-0042") is None
    opportunity.file_customer()  # sam fills the 客户基本信息表, the market files it

    filed = customers.record(deployed, "CUS-0042")
    assert filed is not None
    assert (filed.customer_name, filed.department, filed.owner) == (
        "华东精细化工有限公司",
        "sales",
        ACCOUNT_OWNER,
    )
    assert (filed.status, filed.category, filed.address) == ("new", "key", "上海市浦东新区 88 号")
    assert (filed.contact_person, filed.contact_phone) == ("王经理", "021-5555-0101")


def test_key_customer__the_department_manager_names_a_second_contact_person(
    deployed: flowdesk.Engine,
) -> None:
    open_key_account(deployed, category="key")
    (naming,) = record_tasks(deployed)
    assert naming.element_id == "Task_name_second_contact"
    assert naming.candidate_groups == ("sales_manager",)
    act(deployed, naming, {"second_contact": "paula"}, user="sally")
    found = customers.record(deployed, "CUS-7")
    assert found is not None and found.second_contact == "paula" and found.is_key_customer
    assert record_tasks(deployed) == []


def test_general_customer__needs_no_second_contact(deployed: flowdesk.Engine) -> None:
    open_key_account(deployed, category="general")
    assert record_tasks(deployed) == []


def test_customer_categories__are_the_four_the_rules_name(deployed: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.InvalidArgument, match="category"):
        open_key_account(deployed, category="vip")
    with pytest.raises(flowdesk.InvalidArgument, match="department"):
        open_key_account(deployed, department="nowhere")
    open_key_account(deployed)
    with pytest.raises(flowdesk.InvalidArgument, match="already has a master record"):
        open_key_account(deployed)


# -- 员工调离: the departed employee's customers and tasks follow to the successor -----------------


def test_departed_employee__later_tasks_from_the_customer_owner_go_to_the_successor(
    deployed: flowdesk.Engine, new_engine: Callable[[], flowdesk.Engine]
) -> None:
    opportunity = Opportunity.start(deployed)
    opportunity.to_negotiation()
    assert opportunity.task("Task_negotiate").assignee == ACCOUNT_OWNER

    handover = customers.depart(new_engine(), ACCOUNT_OWNER, SUCCESSOR, user="lee")
    assert handover.customers == ("CUS-0042",)
    assert handover.tasks_moved == 1  # the open negotiation

    opportunity.engine = new_engine()  # what follows runs on a restarted engine
    assert opportunity.task("Task_negotiate").assignee == SUCCESSOR
    opportunity.do("Task_negotiate", {"negotiation_outcome": "revise_price"}, user=SUCCESSOR)
    opportunity.quote()  # a revised price within the company's discount: no approval
    # Created after sam left, from ${customers.owner(customer_id, account_owner)}.
    assert opportunity.task("Task_negotiate").assignee == SUCCESSOR
    opportunity.do("Task_negotiate", {"negotiation_outcome": "agreed"}, user=SUCCESSOR)
    assert opportunity.task("Task_draft_contract").assignee == SUCCESSOR
    assert not opportunity.engine.tasks(assignee=ACCOUNT_OWNER)
    # The variable the process started with still says who first met the customer.
    assert opportunity.variables["account_owner"] == ACCOUNT_OWNER


def test_departed_employee__the_customer_is_notified_and_another_employee_assigned(
    deployed: flowdesk.Engine,
) -> None:
    record = open_key_account(deployed)
    customers.depart(deployed, "sam", SUCCESSOR, user="lee")

    moved = customers.record(deployed, "CUS-7")
    assert moved is not None and moved.owner == SUCCESSOR
    (telling,) = record_tasks(deployed)
    assert telling.element_id == "Task_notify_customer_of_new_contact"
    assert telling.assignee == SUCCESSOR
    assert telling.properties == {"customerContact": "call"}
    (notice,) = deployed.documents(record.instance_id)
    assert notice.name == "联系人变更通知 CUS-7 sam → sally"
    assert "sam 已调离本公司" in notice.content and "由 sally 负责" in notice.content

    act(deployed, telling, {"notified_by": "call", "customer_response": "ok"}, user=SUCCESSOR)
    contacts = customers.contact_history(deployed, "CUS-7")
    assert [(c.user, c.channel, c.step) for c in contacts] == [
        (SUCCESSOR, "call", "Tell the customer their new contact")
    ]


def test_departed_second_contact__is_replaced_by_the_successor_too(
    deployed: flowdesk.Engine,
) -> None:
    open_key_account(deployed, owner="sally", second_contact="sam", category="key")
    handover = customers.depart(deployed, "sam", "paula")
    assert handover.customers == ("CUS-7",)
    found = customers.record(deployed, "CUS-7")
    assert found is not None and (found.owner, found.second_contact) == ("sally", "paula")


def test_departed_employee__a_leaver_without_customers_only_hands_over_tasks(
    deployed: flowdesk.Engine,
) -> None:
    open_key_account(deployed)
    handover = customers.depart(deployed, "mark", "max")
    assert (handover.customers, handover.tasks_moved) == ((), 0)
    with pytest.raises(flowdesk.InvalidArgument):
        customers.depart(deployed, "sam", "sam")


# -- 客户信息维护表: a change is fed back within 5 working days ------------------------------------


def test_customer_change__maintenance_sheet_due_in_5_working_days_then_filed_into_the_record(
    deployed: flowdesk.Engine, clock
) -> None:
    record = open_key_account(deployed)
    customers.report_change(deployed, "CUS-7", description="Moved to Suzhou", user="sam")
    (sheet,) = record_tasks(deployed)
    assert sheet.element_id == "Task_fill_maintenance_sheet"
    assert sheet.assignee == "sam"  # the customer's owner
    assert sheet.due == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday 2 + 5 working days
    act(
        deployed,
        sheet,
        {"change_description": "Moved to Suzhou", "new_address": "苏州工业园区 1 号"},
        user="sam",
    )
    (filing,) = record_tasks(deployed)
    assert filing.element_id == "Task_file_maintenance_sheet"
    assert filing.candidate_groups == ("market",)
    act(deployed, filing, {}, user="mark")

    found = customers.record(deployed, "CUS-7")
    assert found is not None and found.address == "苏州工业园区 1 号"
    assert found.contact_person == "王经理"  # unchanged fields keep their value
    (sheet_document,) = deployed.documents(record.instance_id)
    assert sheet_document.name == "客户信息维护表 CUS-7 #1"
    assert "上海市浦东新区 88 号" in sheet_document.content
    assert "苏州工业园区 1 号" in sheet_document.content


def test_overdue_maintenance_sheet__escalates_to_the_department_manager(
    deployed: flowdesk.Engine, clock
) -> None:
    open_key_account(deployed)
    customers.report_change(deployed, "CUS-7", description="New phone number")
    clock.advance(days=6, hours=23)  # Sunday 8 March: 4 working days
    deployed.run_due_jobs()
    assert [t.element_id for t in record_tasks(deployed)] == ["Task_fill_maintenance_sheet"]
    clock.advance(hours=1)  # Monday 9 March, 09:00: 5 working days
    deployed.run_due_jobs()
    follow_up = one_task(deployed, "Task_follow_up_overdue_maintenance")
    assert follow_up.candidate_groups == ("sales_manager",)


def test_customer_change__needs_a_master_record_and_a_description(
    deployed: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.InvalidArgument, match="no master record"):
        customers.report_change(deployed, "CUS-404", description="x")
    open_key_account(deployed)
    with pytest.raises(flowdesk.InvalidArgument, match="description"):
        customers.report_change(deployed, "CUS-7", description=" ")


# -- 记录在案: calls, letters and faxes ---------------------------------------------------------


def test_calls_letters_and_faxes__are_recorded_in_the_customer_archive(
    deployed: flowdesk.Engine, clock
) -> None:
    open_key_account(deployed)
    customers.log_contact(deployed, "CUS-7", channel="fax", summary="Sent price list", user="sam")
    clock.advance(hours=2)
    customers.log_contact(
        deployed, "CUS-7", channel="letter", summary="Annual greeting", user="sally"
    )
    found = customers.record(deployed, "CUS-7")
    assert found is not None
    assert [(c["channel"], c["user"]) for c in found.contacts] == [
        ("fax", "sam"),
        ("letter", "sally"),
    ]
    history = customers.contact_history(deployed, "CUS-7")
    assert [(c.channel, c.step, c.at) for c in history] == [
        ("fax", "Sent price list", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("letter", "Annual greeting", datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
    ]
    with pytest.raises(flowdesk.InvalidArgument, match="channel"):
        customers.log_contact(deployed, "CUS-7", channel="pigeon", summary="x", user="sam")


# -- 客户状态: new -> lead -> signed -----------------------------------------------------------


def test_customer_status__moves_from_new_to_lead_to_signed_and_never_back(
    deployed: flowdesk.Engine,
) -> None:
    open_key_account(deployed)
    assert customers.set_status(deployed, "CUS-7", "lead").status == "lead"
    with pytest.raises(flowdesk.InvalidArgument, match="only forward"):
        customers.set_status(deployed, "CUS-7", "new")
    assert customers.set_status(deployed, "CUS-7", "signed").status == "signed"
    with pytest.raises(flowdesk.InvalidArgument, match="only forward"):
        customers.set_status(deployed, "CUS-7", "signed")


# -- 客户档案查阅: the engine enforces who may read a customer's archive -------------------------


def opportunity_with_documents(engine: flowdesk.Engine) -> Opportunity:
    opportunity = Opportunity.start(engine)
    opportunity.file_customer()  # renders the 客户基本信息表
    return opportunity


def test_customer_archive__another_department_reader_is_refused_by_the_engine(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = opportunity_with_documents(deployed)
    for read in (deployed.documents, deployed.history, deployed.instance):
        with pytest.raises(flowdesk.ReadNotAuthorized) as refused:
            read(opportunity.id, user="connie")
        assert "general manager" in refused.value.reason
        assert "sales department" in refused.value.reason


def test_customer_archive__owner_and_those_working_on_it_may_read(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = opportunity_with_documents(deployed)
    assert deployed.documents(opportunity.id, user=ACCOUNT_OWNER)  # the owner
    assert deployed.documents(opportunity.id, user="mark")  # filed it (a task of the instance)
    with pytest.raises(flowdesk.ReadNotAuthorized):
        deployed.documents(opportunity.id, user="sally")  # same department, not approved


def test_customer_archive__own_department_reader_needs_the_department_manager_approval(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = opportunity_with_documents(deployed)
    (customer,) = [r for r in customers.records(deployed) if r.customer_id == "CUS-0042"]
    request = customers.request_access(
        deployed,
        requester="sally",
        requester_department="sales",
        customer_id="CUS-0042",
        reason="Cover for sam",
    )
    (approval,) = deployed.tasks(instance_id=request.id)
    assert approval.element_id == "Task_department_manager_approval"
    assert request.variables["customer_department"] == customer.department == "sales"
    with pytest.raises(flowdesk.NotAuthorized):  # nobody approves their own request
        act(deployed, approval, {"decision": "approve", "decision_reason": "ok"}, user="sally")
    # Another sales manager is not on the staff: lee (leadership) cannot take it either.
    with pytest.raises(flowdesk.NotAuthorized):
        act(deployed, approval, {"decision": "approve", "decision_reason": "ok"}, user="lee")
    with pytest.raises(flowdesk.ReadNotAuthorized):
        deployed.documents(opportunity.id, user="sally")


def test_customer_archive__readable_once_the_general_manager_approves_another_department(
    deployed: flowdesk.Engine, clock
) -> None:
    opportunity = opportunity_with_documents(deployed)
    request = customers.request_access(
        deployed,
        requester="connie",
        requester_department="consultant",
        customer_id="CUS-0042",
        reason="Consulting offer",
    )
    (approval,) = deployed.tasks(instance_id=request.id)
    assert approval.element_id == "Task_general_manager_approval"
    act(deployed, approval, {"decision": "approve", "decision_reason": "ok"}, user="lee")
    names = [d.name for d in deployed.documents(opportunity.id, user="connie")]
    assert names == ["客户基本信息表 CUS-0042 华东精细化工有限公司"]
    clock.advance(days=7)  # the access period ends
    with pytest.raises(flowdesk.ReadNotAuthorized):
        deployed.documents(opportunity.id, user="connie")


def test_customer_archive__the_department_comes_from_the_master_record_not_the_caller(
    deployed: flowdesk.Engine,
) -> None:
    opportunity_with_documents(deployed)
    with pytest.raises(ValueError, match="belongs to 'sales' in its master record"):
        customers.request_access(
            deployed,
            requester="connie",
            requester_department="consultant",
            customer_id="CUS-0042",
            customer_department="consultant",
            reason="I say it is ours",
        )


def test_customer_archive__trusted_system_reads_are_not_checked(
    deployed: flowdesk.Engine,
) -> None:
    opportunity = opportunity_with_documents(deployed)
    assert deployed.documents(opportunity.id)  # no user: the application itself


def test_customer_archive__the_cli_refuses_an_unauthorized_reader(
    deployed: flowdesk.Engine, db_url: str
) -> None:
    opportunity = opportunity_with_documents(deployed)
    env = {k: None for k in os.environ if k.startswith("FLOWDESK_")}
    runner = CliRunner(env=env)

    refused = runner.invoke(
        main, ["--db", db_url, "--user", "connie", "--json", "documents", opportunity.id]
    )
    assert refused.exit_code == 1
    assert json.loads(refused.stderr)["error"]["type"] == "ReadNotAuthorized"

    anonymous = runner.invoke(main, ["--db", db_url, "documents", opportunity.id])
    assert anonymous.exit_code == 2
    assert "--user" in anonymous.stderr

    owner = runner.invoke(main, ["--db", db_url, "--user", "sam", "documents", opportunity.id])
    assert owner.exit_code == 0, owner.stderr
    assert "客户基本信息表 CUS-0042" in owner.stdout
    system = runner.invoke(main, ["--db", db_url, "show", opportunity.id, "--as-system"])
    assert system.exit_code == 0, system.stderr
