"""User tasks: who sees them, who may claim and complete them, and what forms accept."""

from __future__ import annotations

import pytest
from conftest import DATA, only_task, submit

import flowdesk


def test_start__assignee_expression_gives_the_first_task_to_the_initiator(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    task = only_task(expense, started_instance.id)
    assert (task.element_id, task.assignee, task.form_key) == (
        "Task_submit",
        "alice",
        "expense/submit",
    )
    assert [f.id for f in task.form_fields] == ["amount", "category", "description"]
    category = task.form_fields[1]
    assert (category.type, category.required, category.enum_values) == (
        "enum",
        True,
        ("travel", "meals", "equipment"),
    )
    assert expense.tasks(assignee="alice")[0].id == task.id


def test_tasks__candidate_group_due_date_priority_and_rendered_documentation(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine, clock
) -> None:
    submit(expense, started_instance.id, 5000)
    (task,) = expense.tasks(candidate_group="leadership")
    assert task.candidate_groups == ("leadership",)
    assert task.assignee is None
    assert task.priority == 60
    assert task.due == clock.now.replace(day=clock.now.day + 2)
    assert task.documentation == "alice asks for 5000 CNY (travel): Trip to Shanghai"
    assert expense.tasks(candidate_group="sales") == []
    assert expense.tasks(key="expense_approval", business_key="EXP-1")[0].id == task.id


def test_complete__by_wrong_user_raises_not_authorized_and_changes_nothing(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 5000)
    task = only_task(expense, started_instance.id)
    before = expense.history(started_instance.id)

    with pytest.raises(flowdesk.NotAuthorized) as caught:
        expense.complete(task.id, {"decision": "approve"}, user="alice")

    assert (caught.value.task_id, caught.value.user) == (task.id, "alice")
    assert only_task(expense, started_instance.id) == task
    assert expense.history(started_instance.id) == before
    assert "decision" not in expense.instance(started_instance.id).variables


def test_complete__assigned_task_refuses_other_members_of_the_group(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    (task,) = expense.tasks(instance_id=started_instance.id)
    with pytest.raises(flowdesk.NotAuthorized):
        expense.complete(
            task.id, {"amount": 1, "category": "meals", "description": "tea"}, user="dave"
        )


def test_complete__missing_required_field_lists_each_field_and_changes_nothing(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    task = only_task(expense, started_instance.id)
    with pytest.raises(flowdesk.FormValidationError) as caught:
        expense.complete(task.id, {"amount": 10}, user="alice")
    assert set(caught.value.errors) == {"category", "description"}
    assert only_task(expense, started_instance.id).state == "open"
    assert expense.instance(started_instance.id).variables == {"initiator": "alice"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "yachts"}, "category"),
        ({"amount": "lots"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": True}, "amount"),
        ({"description": "ab"}, "description"),
        ({"description": "x" * 201}, "description"),
    ],
    ids=["bad-enum", "long-not-number", "below-min", "bool-is-not-long", "too-short", "too-long"],
)
def test_complete__bad_value_is_refused_with_the_field_named(
    started_instance: flowdesk.ProcessInstance,
    expense: flowdesk.Engine,
    data: dict[str, object],
    field: str,
) -> None:
    task = only_task(expense, started_instance.id)
    good = {"amount": 10, "category": "meals", "description": "Team lunch"}
    with pytest.raises(flowdesk.FormValidationError) as caught:
        expense.complete(task.id, {**good, **data}, user="alice")
    assert list(caught.value.errors) == [field]


def test_complete__text_values_are_converted_by_form_type(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    task = only_task(expense, started_instance.id)
    expense.complete(
        task.id, {"amount": "1500", "category": "travel", "description": "Train"}, user="alice"
    )
    assert expense.instance(started_instance.id).variables["amount"] == 1500
    assert only_task(expense, started_instance.id).element_id == "Task_approve"


def test_complete__an_already_completed_task_raises_task_state_error(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    task = only_task(expense, started_instance.id)
    submit(expense, started_instance.id, 100)
    with pytest.raises(flowdesk.TaskStateError) as caught:
        expense.complete(
            task.id, {"amount": 1, "category": "meals", "description": "tea"}, user="alice"
        )
    assert caught.value.task_id == task.id
    assert expense.task(task.id).state == "completed"
    assert expense.task(task.id).completed_by == "alice"


def test_complete__unknown_task_raises_not_found(expense: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.NotFound):
        expense.complete("no-such-task", {})


def test_complete__system_call_without_user_is_trusted(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    task = only_task(expense, started_instance.id)
    expense.complete(task.id, {"amount": 50, "category": "meals", "description": "Coffee"})
    assert expense.task(task.id).completed_by is None


def test_claim__gives_the_task_to_a_group_member_and_is_idempotent(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine, clock
) -> None:
    submit(expense, started_instance.id, 5000)
    task = only_task(expense, started_instance.id)
    claimed = expense.claim(task.id, user="bob")
    assert (claimed.assignee, claimed.claimed_at) == ("bob", clock.now)
    assert expense.claim(task.id, user="bob") == claimed
    assert expense.tasks(assignee="bob")[0].id == task.id


def test_claim__by_a_non_candidate_raises_not_authorized(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 5000)
    task = only_task(expense, started_instance.id)
    with pytest.raises(flowdesk.NotAuthorized):
        expense.claim(task.id, user="alice")
    assert expense.task(task.id).assignee is None


def test_claim__a_task_held_by_another_user_raises_task_state_error(
    started_instance: flowdesk.ProcessInstance, make_engine
) -> None:
    engine = make_engine(groups={"alice": ["sales"], "bob": ["leadership"], "erin": ["leadership"]})
    submit(engine, started_instance.id, 5000)
    task = only_task(engine, started_instance.id)
    engine.claim(task.id, user="bob")
    with pytest.raises(flowdesk.TaskStateError):
        engine.claim(task.id, user="erin")
    with pytest.raises(flowdesk.NotAuthorized):
        engine.complete(task.id, {"decision": "approve"}, user="erin")


def test_groups__may_be_a_function_of_the_user(make_engine, started_instance) -> None:
    engine = make_engine(groups=lambda user: ["leadership"] if user.startswith("boss") else [])
    submit(engine, started_instance.id, 5000)
    task = only_task(engine, started_instance.id)
    engine.complete(task.id, {"decision": "approve"}, user="boss-li")
    assert only_task(engine, started_instance.id).element_id == "Task_pay"


def test_candidate_users_and_groups__expressions_and_literals_are_evaluated(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "io_mapping.bpmn")
    instance = engine.start(
        "review",
        {"reviewers": ["erin", "frank"], "department": "research", "document": "Spec v2", "low": 3},
    )
    task = only_task(engine, instance.id)
    assert task.candidate_users == ("erin", "frank")
    assert task.candidate_groups == ("quality", "research")
    assert engine.tasks(candidate_user="frank")[0].id == task.id
    assert engine.tasks(candidate_group="research")[0].id == task.id
    assert task.properties == {"sla": "gold"}
    assert task.documentation == "Review Spec v2 for research"
    pages = task.form_fields[1]
    assert (pages.type, pages.default, pages.required) == ("long", "1", False)


def test_input_output_mapping__inputs_stay_local_and_outputs_reach_the_instance(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "io_mapping.bpmn")
    instance = engine.start(
        "review", {"reviewers": "erin", "department": "research", "document": "Spec v2", "low": 3}
    )
    task = only_task(engine, instance.id)
    engine.complete(task.id, {"verdict": "ok", "urgent": "true", "pages": 12}, user="erin")
    variables = engine.instance(instance.id).variables
    assert variables["review_outcome"] == "accepted"
    assert variables["urgent"] is True
    assert "title" not in variables and "limits" not in variables
    assert engine.instance(instance.id).state == "completed"


def test_form__limits_from_constraints_are_enforced(engine: flowdesk.Engine) -> None:
    engine.deploy(DATA / "io_mapping.bpmn")
    instance = engine.start(
        "review", {"reviewers": "erin", "department": "research", "document": "Spec v2", "low": 3}
    )
    task = only_task(engine, instance.id)
    with pytest.raises(flowdesk.FormValidationError) as caught:
        engine.complete(task.id, {"verdict": "ok", "pages": 501, "urgent": "maybe"}, user="erin")
    assert set(caught.value.errors) == {"pages", "urgent"}


def test_tasks__candidate_user_includes_tasks_offered_to_the_users_groups(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 200)
    (task,) = expense.tasks(candidate_user="carol")
    assert task.element_id == "Task_pay"
    assert expense.tasks(candidate_user="bob") == []


# -- the four-eyes rule -------------------------------------------------------------------------


@pytest.fixture
def discount(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "four_eyes.bpmn")
    return engine


def test_excluded_users__may_neither_claim_nor_complete_though_in_the_group(
    discount: flowdesk.Engine,
) -> None:
    instance = discount.start("discount_request", {"requester": "alice"})
    (task,) = discount.tasks(instance_id=instance.id)
    assert task.properties["flowdesk.excludedUsers"] == "alice"

    with pytest.raises(flowdesk.NotAuthorized, match="excluded") as refused:
        discount.claim(task.id, user="alice")
    assert refused.value.reason == "excluded by flowdesk.excludedUsers"
    with pytest.raises(flowdesk.NotAuthorized):
        discount.complete(task.id, user="alice")
    assert discount.task(task.id).state == "open"

    discount.claim(task.id, user="dave")
    assert discount.complete(task.id, user="dave").state == "completed"


def test_excluded_users__an_unknown_variable_is_an_incident(discount: flowdesk.Engine) -> None:
    instance = discount.start("discount_request")

    assert discount.instance(instance.id).state == "incident"
