"""`Engine.unclaim`, `delete_instance`, `set_variables` and `definition_xml`: the calls the
REST API needs beyond the task and runtime calls (Camunda's `setAssignee(null)`,
`deleteProcessInstance`, `setVariables`, `getProcessModel`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA

import flowdesk


def test_the_assignee_unclaims_and_the_task_is_offered_again(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "four_eyes.bpmn")
    instance = engine.start("discount_request", {"requester": "alice"})
    (task,) = engine.tasks(instance_id=instance.id)
    engine.claim(task.id, user="dave")
    with pytest.raises(flowdesk.NotAuthorized):  # carol (finance) is no candidate
        make_engine().unclaim(task.id, user="carol")
    assert make_engine().task(task.id).assignee == "dave"

    released = make_engine().unclaim(task.id, user="dave")
    assert released.assignee is None and released.claimed_at is None
    assert [t.id for t in engine.tasks(candidate_user="dave")] == [task.id]
    assert make_engine().unclaim(task.id, user="dave").assignee is None  # nobody holds it
    events = [e for e in engine.history(instance.id) if e.type == "task_unclaimed"]
    assert [(e.user, e.data["from"]) for e in events] == [("dave", "dave")]
    with pytest.raises(flowdesk.NotAuthorized):  # the four-eyes rule still holds
        engine.claim(task.id, user="alice")
    engine.complete(task.id, user="dave")
    with pytest.raises(flowdesk.TaskStateError):
        engine.unclaim(task.id, user="dave")


def test_a_deleted_instance_is_terminated_with_its_tasks_cancelled(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "four_eyes.bpmn")
    instance = engine.start("discount_request", {"requester": "alice"})
    deleted = make_engine().delete_instance(instance.id, reason="duplicate", user="bob")
    assert deleted.state == "terminated" and deleted.ended_at is not None
    assert engine.tasks(instance_id=instance.id) == []
    assert [t.state for t in engine.tasks(instance_id=instance.id, state="all")] == ["cancelled"]
    (event,) = [e for e in engine.history(instance.id) if e.type == "instance_terminated"]
    assert event.data["reason"] == "duplicate (by bob)"
    with pytest.raises(flowdesk.InstanceStateError):
        make_engine().delete_instance(instance.id)
    with pytest.raises(flowdesk.NotFound):
        engine.delete_instance("no-such-instance")


def test_set_variables_lets_a_waiting_condition_go_on(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "admin_conditional.bpmn")
    instance = engine.start("admin_conditional", {"ready": False})
    assert engine.tasks(instance_id=instance.id) == []
    unchanged = make_engine().set_variables(instance.id, {"note": "later"}, user="bob")
    assert unchanged.variables == {"ready": False, "note": "later"}
    assert engine.tasks(instance_id=instance.id) == []

    with pytest.raises(flowdesk.VariableError):
        make_engine().set_variables(instance.id, {"ready": float("nan")})
    assert make_engine().instance(instance.id).variables["ready"] is False  # nothing stored

    moved = make_engine().set_variables(instance.id, {"ready": True}, user="bob")
    assert moved.variables["ready"] is True
    assert [t.element_id for t in make_engine().tasks(instance_id=instance.id)] == ["Go"]
    (event, _) = [e for e in engine.history(instance.id) if e.type == "variables_set"]
    assert (event.user, event.data["names"]) == ("bob", ["note"])

    (task,) = engine.tasks(instance_id=instance.id)
    engine.complete(task.id, user="dave")
    with pytest.raises(flowdesk.InstanceStateError):
        make_engine().set_variables(instance.id, {"late": 1})


def test_definition_xml_is_the_deployed_file(make_engine: Callable[..., flowdesk.Engine]) -> None:
    engine = make_engine()
    engine.deploy(DATA / "four_eyes.bpmn")
    text = (DATA / "four_eyes.bpmn").read_text(encoding="utf-8")
    assert engine.definition_xml("discount_request") == text
    assert make_engine().definition_xml("discount_request", version=1) == text
    with pytest.raises(flowdesk.NotFound):
        engine.definition_xml("discount_request", version=2)
    with pytest.raises(flowdesk.NotFound):
        engine.definition_xml("no_such_process")
