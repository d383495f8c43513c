"""The engine's read-authorization hook, and beans that query the engine while a step runs.

`Engine(read_authorizer=...)` (or the handler registry's) decides whether a named `user` may
read an instance, its history and its documents; a call without `user` is trusted. Beans find
the engine running the step with `flowdesk.current_engine()` and read through its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DATA

import flowdesk

ASSIGNED_BY_LOOKUP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="first" camunda:assignee="${{desk.owner(account)}}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="second" camunda:assignee="${{desk.owner(account)}}">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


class Desk:
    """A bean that looks the account's owner up in another process's running instance."""

    def owner(self, account: str) -> str | None:
        engine = flowdesk.current_engine()
        assert engine is not None, "a bean runs inside an engine call"
        found = engine.instances(key="account", state="running", variables={"account": account})
        return str(found[0].variables["owner"]) if found else None


def only_alice(request: flowdesk.ReadRequest) -> str | None:
    return None if request.user == "alice" else f"{request.resource} is alice's"


@pytest.fixture
def quoting(engine: flowdesk.Engine) -> flowdesk.ProcessInstance:
    engine.handlers.register_service(
        "quoteWriter", lambda call: call.attach("Quotation", "# Quotation") or {}
    )
    engine.handlers.register_service("letterWriter", lambda call: None)
    engine.deploy(DATA / "documents.bpmn")
    return engine.start("quoting", {"total": 10}, business_key="Q-1")


def test_read_authorizer__refuses_instance_history_and_documents_to_a_refused_user(
    make_engine: Callable[..., flowdesk.Engine], quoting: flowdesk.ProcessInstance
) -> None:
    engine = make_engine(read_authorizer=only_alice)
    for read, resource in (
        (engine.instance, "instance"),
        (engine.history, "history"),
        (engine.documents, "documents"),
    ):
        with pytest.raises(flowdesk.ReadNotAuthorized) as refused:
            read(quoting.id, user="bob")
        assert refused.value.user == "bob"
        assert refused.value.instance_id == quoting.id
        assert refused.value.resource == resource
        assert refused.value.reason == f"{resource} is alice's"
    assert [d.name for d in engine.documents(quoting.id, user="alice")] == ["Quotation"]
    assert engine.history(quoting.id, user="alice")
    assert engine.instance(quoting.id, user="alice").variables["total"] == 10


def test_read_authorizer__a_call_without_user_is_a_trusted_system_read(
    make_engine: Callable[..., flowdesk.Engine], quoting: flowdesk.ProcessInstance
) -> None:
    engine = make_engine(read_authorizer=only_alice)
    assert [d.name for d in engine.documents(quoting.id)] == ["Quotation"]
    assert engine.instance(quoting.id).id == quoting.id


def test_read_authorizer__from_the_registry_unless_the_engine_is_given_its_own(
    make_engine: Callable[..., flowdesk.Engine], quoting: flowdesk.ProcessInstance
) -> None:
    registry = flowdesk.HandlerRegistry()
    registry.register_read_authorizer(only_alice)
    from_registry = make_engine(handlers=registry)
    with pytest.raises(flowdesk.ReadNotAuthorized):
        from_registry.documents(quoting.id, user="bob")

    def everyone(request: flowdesk.ReadRequest) -> str | None:
        return None

    own = make_engine(handlers=registry, read_authorizer=everyone)
    assert own.documents(quoting.id, user="bob")
    assert own.read_authorizer is everyone


def test_read_authorizer__is_given_the_instance_with_its_variables_and_the_clock(
    make_engine: Callable[..., flowdesk.Engine], quoting: flowdesk.ProcessInstance, clock
) -> None:
    seen: list[flowdesk.ReadRequest] = []

    def record(request: flowdesk.ReadRequest) -> str | None:
        seen.append(request)
        return None

    engine = make_engine(read_authorizer=record)
    engine.documents(quoting.id, user="carol")
    (request,) = seen
    assert request.instance.variables["total"] == 10
    assert request.instance.business_key == "Q-1"
    assert request.now == clock.now
    assert request.resource == "documents"


def test_read_authorizer__an_unknown_instance_is_not_found_before_any_policy(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine(read_authorizer=only_alice)
    with pytest.raises(flowdesk.NotFound):
        engine.documents("no-such-instance", user="bob")


def _deploy_account_and_work(engine: flowdesk.Engine, tmp_path: Path) -> None:
    """`account`: master data, an instance per account waiting at a task, owner a variable;
    `work`: two tasks, each assigned to the account's owner looked up when it is created."""
    master = tmp_path / "account.bpmn"
    master.write_text(
        ASSIGNED_BY_LOOKUP.format(key="account").replace("${desk.owner(account)}", "${owner}")
    )
    engine.deploy(master)
    work = tmp_path / "work.bpmn"
    work.write_text(ASSIGNED_BY_LOOKUP.format(key="work"))
    engine.deploy(work)


def test_current_engine__a_bean_reads_the_engine_when_each_task_is_created(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    registry = flowdesk.HandlerRegistry()
    registry.register_bean("desk", Desk())
    engine = make_engine(handlers=registry)
    _deploy_account_and_work(engine, tmp_path)
    account = engine.start("account", {"account": "A-1", "owner": "sam"})
    work = engine.start("work", {"account": "A-1"})
    (first,) = engine.tasks(instance_id=work.id)
    assert first.assignee == "sam"
    # The owner changes in the master data (its task is completed with a new owner).
    (owning,) = engine.tasks(instance_id=account.id)
    engine.complete(owning.id, {"owner": "sally"})
    engine.complete(first.id, {})
    (second,) = engine.tasks(instance_id=work.id)
    assert second.assignee == "sally"


def test_current_engine__is_none_outside_an_engine_call() -> None:
    assert flowdesk.current_engine() is None


def test_current_engine__a_bean_query_works_on_an_in_memory_database(tmp_path: Path) -> None:
    registry = flowdesk.HandlerRegistry()
    registry.register_bean("desk", Desk())
    with flowdesk.Engine("sqlite://", handlers=registry, load_entry_points=False) as engine:
        _deploy_account_and_work(engine, tmp_path)
        engine.start("account", {"account": "A-1", "owner": "sam"})
        work = engine.start("work", {"account": "A-1"})
        (first,) = engine.tasks(instance_id=work.id)
        assert first.assignee == "sam"
        assert engine.instance(work.id).state == "running"
