"""One `Engine` shared by many threads, as a web application shares it.

Each thread starts its own instances, completes their multi-instance user tasks and
correlates a message to them, all through the one engine; afterwards every instance has
ended, with the variables and history a single-threaded run gives it, and no call failed with
anything but the documented `ConcurrencyConflict` (none is expected here: the threads never
touch the same instance).

A second test checks the reason it is safe: running instances does not change the specs the
engine caches and shares between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flowdesk
from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.instances.execution import EngineContext
from flowdesk.engine.services.runtime import RuntimeService
from flowdesk.engine.services.tasks import TaskService
from flowdesk.handlers import HandlerRegistry
from flowdesk.store import Store

THREADS = 6
INSTANCES_PER_THREAD = 4

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="t">
  <bpmn:message id="Msg_paid" name="paid" />
  <bpmn:message id="Msg_note" name="note" />
  <bpmn:process id="shared" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Price" />
    <bpmn:scriptTask id="Price" scriptFormat="python">
      <bpmn:script>total = sum(amount for _ in range(2)) if False else amount * 2</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="Price" targetRef="Review" />
    <bpmn:userTask id="Review" camunda:assignee="${reviewer}">
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}"
          camunda:elementVariable="reviewer" />
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="Review" targetRef="Paid" />
    <bpmn:intermediateCatchEvent id="Paid">
      <bpmn:messageEventDefinition messageRef="Msg_paid" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="Paid" targetRef="E" />
    <bpmn:endEvent id="E" />
    <bpmn:subProcess id="Notes" triggeredByEvent="true">
      <bpmn:startEvent id="NoteStart" isInterrupting="false">
        <bpmn:messageEventDefinition messageRef="Msg_note" />
      </bpmn:startEvent>
      <bpmn:sequenceFlow id="n1" sourceRef="NoteStart" targetRef="NoteEnd" />
      <bpmn:endEvent id="NoteEnd" />
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>
"""


def deploy(engine: flowdesk.Engine, tmp_path: Path) -> None:
    path = tmp_path / "shared.bpmn"
    path.write_text(MODEL, encoding="utf-8")
    engine.deploy(path)


def drive(engine: flowdesk.Engine, business_key: str) -> str:
    """One instance from start to end through the shared engine; returns its id."""
    reviewers = [f"{business_key}-a", f"{business_key}-b"]
    instance = engine.start(
        "shared", {"amount": 21, "reviewers": reviewers}, business_key=business_key
    )
    engine.correlate("note", business_key=business_key)  # the event sub-process runs once
    for task in engine.tasks(instance_id=instance.id):
        assert task.assignee is not None
        engine.complete(task.id, {}, user=task.assignee)
    engine.correlate("paid", business_key=business_key, variables={"paid": True})
    return instance.id


def test_threads_sharing_one_engine_start_complete_and_correlate_and_lose_nothing(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    engine = make_engine()
    deploy(engine, tmp_path)
    finished = run_threads(engine)

    check = make_engine()  # a fresh engine reads what the threads stored
    assert_all_ended(check, finished)


def test_threads_sharing_an_engine_on_in_memory_sqlite_take_turns_and_lose_nothing(
    tmp_path: Path,
) -> None:
    # `sqlite://` is one connection shared by every thread; its units of work take turns.
    with flowdesk.Engine("sqlite://", load_entry_points=False) as engine:
        deploy(engine, tmp_path)
        finished = run_threads(engine)

        assert_all_ended(engine, finished)


def run_threads(engine: flowdesk.Engine) -> dict[str, str]:
    """THREADS threads drive INSTANCES_PER_THREAD instances each; business key -> id."""
    barrier = threading.Barrier(THREADS)
    finished: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        barrier.wait()  # all threads call the engine at once, including its first parse
        for index in range(INSTANCES_PER_THREAD):
            key = f"T{number}-{index}"
            try:
                instance_id = drive(engine, key)
            except BaseException as err:  # any failure is the test's finding, collected
                with lock:
                    errors.append(err)
                return
            with lock:
                finished[key] = instance_id

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert len(finished) == THREADS * INSTANCES_PER_THREAD
    return finished


def assert_all_ended(check: flowdesk.Engine, finished: dict[str, str]) -> None:
    for key, instance_id in finished.items():
        instance = check.instance(instance_id)
        assert instance.state == "completed", key
        assert instance.business_key == key
        assert instance.variables["total"] == 42
        assert instance.variables["paid"] is True
        kinds = [event.type for event in check.history(instance_id)]
        assert kinds.count("task_completed") == 2, key
    assert check.tasks() == []
    assert check.instances(state="running") == []


def fingerprint(bundle: Any) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Every attribute of every task spec of a parsed bundle, as text (objects by identity)."""
    specs = [bundle.spec, *bundle.subprocess_specs.values()]
    return [
        (spec.name, name, sorted((key, repr(value)) for key, value in vars(task_spec).items()))
        for spec in specs
        for name, task_spec in sorted(spec.task_specs.items())
    ]


def test_running_instances_leaves_the_cached_specs_unchanged(db_url: str, tmp_path: Path) -> None:
    with flowdesk.Engine(db_url, load_entry_points=False) as setup:
        deploy(setup, tmp_path)
    store = Store(db_url)
    try:
        context = EngineContext(store, HandlerRegistry(), lambda user: ())
        runtime, tasks = RuntimeService(context), TaskService(context)
        with store.unit_of_work(readonly=True) as uow:
            definition = uow.definitions.latest(PROCESS, "shared")
            assert definition is not None
            bundle = context.specs.bundle(uow, definition)
        before = fingerprint(bundle)

        with store.unit_of_work() as uow:
            started = runtime.start(
                uow, "shared", {"amount": 1, "reviewers": ["x", "y"]}, business_key="K", user=None
            )
        with store.unit_of_work() as uow:
            runtime.correlate(uow, "note", business_key="K", correlation_keys=None, variables={})
        with store.unit_of_work() as uow:
            open_tasks = uow.tasks.list(instance_id=started.id, state="open")
        for row in open_tasks:
            with store.unit_of_work() as uow:
                tasks.complete(uow, row.id, {}, user=row.assignee)
        with store.unit_of_work() as uow:
            ended = runtime.correlate(
                uow, "paid", business_key="K", correlation_keys=None, variables={}
            )

        assert ended.state == "completed"
        assert fingerprint(bundle) == before
    finally:
        store.dispose()
