"""Multi-instance activities as Camunda 7 runs them: collections, counters, locals, results."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA

import flowdesk

REVIEWERS = ["alice", "bob", "carol"]
ORDERS = [
    {"qty": 2, "price": 5, "owner": "alice"},
    {"qty": 20, "price": 1, "owner": "bob"},
    {"qty": 1, "price": 7, "owner": "carol"},
]
LOCALS = {"loopCounter", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances"}


@pytest.fixture
def mi(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "mi_user_tasks.bpmn")
    return engine


def _open(engine: flowdesk.Engine, instance_id: str) -> list[flowdesk.Task]:
    return sorted(engine.tasks(instance_id=instance_id), key=lambda t: t.assignee or "")


def _by_assignee(engine: flowdesk.Engine, instance_id: str) -> dict[str | None, flowdesk.Task]:
    return {task.assignee: task for task in engine.tasks(instance_id=instance_id)}


# -- user tasks ---------------------------------------------------------------------------------


def test_parallel_user_task__one_task_per_element_each_assigned_by_its_element(
    mi: flowdesk.Engine,
) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": REVIEWERS, "document": "D-7"})

    tasks = _open(mi, instance.id)
    assert [(t.element_id, t.assignee) for t in tasks] == [
        ("parallel_review", "alice"),
        ("parallel_review", "bob"),
        ("parallel_review", "carol"),
    ]
    assert [t.candidate_groups for t in tasks] == [("sales",), ("leadership",), ("sales",)]
    assert [t.documentation for t in tasks] == [
        "Review D-7 (1 of 3, for alice)",
        "Review D-7 (2 of 3, for bob)",
        "Review D-7 (3 of 3, for carol)",
    ]


def test_parallel_user_task__results_collected_per_instance_without_overwriting(
    mi: flowdesk.Engine,
) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": REVIEWERS, "document": "D-7"})
    tasks = _by_assignee(mi, instance.id)

    # Completed out of order: the collection keeps the order of the reviewers.
    mi.complete(tasks["carol"].id, {"decision": "reject"}, user="carol")
    mi.complete(tasks["alice"].id, {"decision": "approve"}, user="alice")
    done = mi.complete(tasks["bob"].id, {"decision": "approve"}, user="bob")

    assert done.state == "completed"
    assert done.variables["decisions"] == ["approve", "approve", "reject"]
    assert done.variables["approvals"] == 2
    # A variable every instance sets is process-scoped, as in Camunda: the last writer wins.
    assert done.variables["decision"] == "approve"


def test_parallel_user_task__element_variable_and_counters_never_reach_the_process_scope(
    mi: flowdesk.Engine,
) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": REVIEWERS, "document": "D-7"})
    for task in _open(mi, instance.id):
        running = mi.complete(task.id, {"decision": "approve"}, user=task.assignee)
        assert not (LOCALS | {"reviewer"}) & set(running.variables)

    assert running.state == "completed"
    assert not (LOCALS | {"reviewer"}) & set(running.variables)


def test_parallel_user_task__instances_survive_an_engine_restart(
    mi: flowdesk.Engine, make_engine: Callable[..., flowdesk.Engine]
) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": REVIEWERS, "document": "D-7"})
    tasks = _by_assignee(mi, instance.id)
    mi.complete(tasks["alice"].id, {"decision": "approve"}, user="alice")

    fresh = make_engine()
    fresh.complete(tasks["bob"].id, {"decision": "reject"}, user="bob")
    done = fresh.complete(tasks["carol"].id, {"decision": "approve"}, user="carol")

    assert done.state == "completed"
    assert done.variables["decisions"] == ["approve", "reject", "approve"]


def test_empty_collection__skips_the_activity(mi: flowdesk.Engine) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": [], "document": "D-7"})

    assert instance.state == "completed"
    assert mi.tasks(instance_id=instance.id, state=None) == []
    assert instance.variables["decisions"] == []
    assert instance.variables["approvals"] == 0


def test_collection_that_is_a_map__runs_once_per_value(mi: flowdesk.Engine) -> None:
    # Camunda refuses a Map; SpiffWorkflow-era models iterate a dict, so flowdesk takes its values.
    reviewers = {"lead": "bob", "peer": "alice"}
    instance = mi.start("mi_parallel_review", {"reviewers": reviewers, "document": "D-7"})

    assert [t.assignee for t in _open(mi, instance.id)] == ["alice", "bob"]


def test_sequential_user_task__creates_the_instances_one_after_the_other(
    mi: flowdesk.Engine,
) -> None:
    # camunda:collection="signers": a plain variable name, not an expression.
    instance = mi.start("mi_sequential_review", {"signers": ["bob", "alice", "carol"]})

    order = []
    while tasks := mi.tasks(instance_id=instance.id):
        (task,) = tasks
        order.append(task.assignee)
        instance = mi.complete(task.id, {}, user=task.assignee)

    assert order == ["bob", "alice", "carol"]
    assert instance.state == "completed"


def test_sequential_user_task__a_changed_element_variable_stays_in_its_instance(
    mi: flowdesk.Engine,
) -> None:
    instance = mi.start("mi_sequential_review", {"signers": ["bob", "alice"]})
    (first,) = mi.tasks(instance_id=instance.id)

    running = mi.complete(first.id, {"signer": "mallory"}, user="bob")

    (second,) = mi.tasks(instance_id=instance.id)
    assert second.assignee == "alice"
    assert "signer" not in running.variables


def test_completion_condition__ends_early_and_cancels_the_remaining_task_rows(
    mi: flowdesk.Engine,
) -> None:
    voters = ["alice", "bob", "carol", "dave"]
    instance = mi.start("mi_quorum", {"voters": voters, "vote": None})
    tasks = _by_assignee(mi, instance.id)

    running = mi.complete(tasks["bob"].id, {"vote": "yes"}, user="bob")
    assert len(mi.tasks(instance_id=instance.id)) == 3  # 1 of 4 is below the quorum
    running = mi.complete(tasks["dave"].id, {"vote": "no"}, user="dave")

    (tally,) = mi.tasks(instance_id=instance.id)
    assert tally.element_id == "tally"
    votes = [t for t in mi.tasks(instance_id=instance.id, state=None) if t.element_id == "vote"]
    assert {t.assignee: t.state for t in votes} == {
        "alice": "cancelled",
        "bob": "completed",
        "carol": "cancelled",
        "dave": "completed",
    }
    cancelled = [e for e in mi.history(instance.id) if e.type == "task_cancelled"]
    assert sorted(e.data["task_id"] for e in cancelled) == sorted(
        [tasks["alice"].id, tasks["carol"].id]
    )
    assert running.state == "running"


def test_completion_condition__reads_process_variables_too(mi: flowdesk.Engine) -> None:
    voters = ["alice", "bob", "carol", "dave"]
    instance = mi.start("mi_quorum", {"voters": voters, "vote": None})
    tasks = _by_assignee(mi, instance.id)

    mi.complete(tasks["carol"].id, {"vote": "veto"}, user="carol")

    (tally,) = mi.tasks(instance_id=instance.id)
    assert tally.element_id == "tally"


def test_loop_cardinality__literal_and_expression_with_loop_counter(mi: flowdesk.Engine) -> None:
    instance = mi.start("mi_copies", {"stamps": [], "copies": 2})

    # Sequential script task, loopCardinality 3: loopCounter * 10 + nrOfInstances each time.
    assert instance.variables["stamps"] == [3, 13, 23]
    # Parallel user task, loopCardinality ${copies}: assignee clerk_${loopCounter}.
    assert [t.assignee for t in _open(mi, instance.id)] == ["clerk_0", "clerk_1"]


# -- sub-processes, service tasks --------------------------------------------------------------


@pytest.fixture
def orders(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "mi_subprocess.bpmn")
    return engine


def test_subprocess__inner_tasks_see_their_own_element(orders: flowdesk.Engine) -> None:
    instance = orders.start("mi_orders", {"orders": ORDERS, "seen": []})

    tasks = _open(orders, instance.id)
    # The gateway inside each instance routed on that instance's own order.
    assert [(t.element_id, t.assignee, t.documentation) for t in tasks] == [
        ("confirm", "alice", "Order 0: 2 for alice"),
        ("bulk", "bob", "Bulk order of 20 for bob"),
        ("confirm", "carol", "Order 2: 1 for carol"),
    ]
    assert instance.variables["seen"] == [0, 1, 2]
    assert not (LOCALS | {"order"}) & set(instance.variables)


def test_subprocess__per_instance_results_are_collected_without_overwriting(
    orders: flowdesk.Engine, make_engine: Callable[..., flowdesk.Engine]
) -> None:
    instance = orders.start("mi_orders", {"orders": ORDERS, "seen": []})
    # Every instance's script wrote the process variable `total`; the last one won.
    assert instance.variables["total"] == 7
    tasks = _by_assignee(orders, instance.id)

    fresh = make_engine()
    fresh.complete(tasks["carol"].id, {})
    fresh.complete(tasks["alice"].id, {})
    done = fresh.complete(tasks["bob"].id, {}, user="bob")

    assert done.state == "completed"
    assert done.variables["totals"] == [10, 20, 7]
    assert not (LOCALS | {"order"}) & set(done.variables)


def test_service_task__sequential_handler_sees_its_element_and_loop_counter(
    engine: flowdesk.Engine,
) -> None:
    seen: list[tuple[object, ...]] = []

    def notify(call: flowdesk.ServiceCall) -> dict[str, str]:
        v = call.variables
        seen.append((v["subscriber"], v["loopCounter"], v["address"], v["nrOfActiveInstances"]))
        return {"receipt": f"sent to {v['address']}"}

    engine.handlers.register_service("com.example.Notify", notify)
    engine.deploy(DATA / "mi_service.bpmn")

    done = engine.start("mi_notify", {"subscribers": ["ann", "ben"]})

    assert seen == [("ann", 0, "ann@example.com", 1), ("ben", 1, "ben@example.com", 1)]
    assert done.variables["receipts"] == ["sent to ann@example.com", "sent to ben@example.com"]
    assert "subscriber" not in done.variables


# -- errors --------------------------------------------------------------------------------------


def test_collection_that_is_not_a_list__is_an_incident_naming_the_activity(
    mi: flowdesk.Engine,
) -> None:
    instance = mi.start("mi_parallel_review", {"reviewers": "alice", "document": "D-7"})

    assert instance.state == "incident"
    assert instance.incident is not None
    assert "parallel_review" in instance.incident
    assert "camunda:collection must be a list" in instance.incident
    assert mi.tasks(instance_id=instance.id) == []


def test_deploy__element_variable_without_collection_is_rejected(engine: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "mi_invalid.bpmn")

    problem = caught.value.problems[0]
    assert (problem.element_id, problem.line) == ("count", 7)
    assert "camunda:elementVariable needs camunda:collection" in problem.message


def test_subprocess__error_boundary_interrupts_every_instance(orders: flowdesk.Engine) -> None:
    instance = orders.start("mi_checks", {"checkers": ["alice", "bob", "carol"], "result": "ok"})
    tasks = _by_assignee(orders, instance.id)
    orders.complete(tasks["alice"].id, {"result": "ok"}, user="alice")

    running = orders.complete(tasks["bob"].id, {"result": "broken"}, user="bob")

    assert (running.state, running.incident) == ("running", None)
    (repair,) = orders.tasks(instance_id=instance.id)
    assert (repair.element_id, repair.assignee) == ("repair", "dave")
    assert orders.task(tasks["carol"].id).state == "cancelled"
    done = orders.complete(repair.id, {}, user="dave")
    assert done.state == "completed"
    assert not (LOCALS | {"checker"}) & set(done.variables)
