"""External tasks as Camunda 7 runs them: the activity waits until a worker fetches and locks
it, then completes it, fails it (retries, incidents) or throws a BPMN error.

The behaviours mirror Camunda's own `ExternalTaskServiceTest` (fetch, lock expiry, wrong
worker, failure with retries and retry timeout, incidents resolved by setting retries, BPMN
errors caught by a boundary event or an event sub-process or uncaught, cancellation by a
boundary event), on flowdesk's models in tests/api/data/external_tasks.bpmn.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import DATA, Clock, only_task

import flowdesk
from flowdesk import FetchTopic
from flowdesk.external_worker import ExternalTaskWorker

MINUTE = timedelta(minutes=1)


@pytest.fixture
def engine(make_engine) -> flowdesk.Engine:
    engine = make_engine()
    engine.deploy(DATA / "external_tasks.bpmn")
    return engine


def fetch(engine: flowdesk.Engine, worker: str, topic: str, **kwargs: object):
    kwargs.setdefault("lock_duration", MINUTE)
    return engine.fetch_and_lock(worker, [topic], 10, **kwargs)  # type: ignore[arg-type]


def start_payment(engine: flowdesk.Engine, **variables: object) -> flowdesk.ProcessInstance:
    return engine.start("ext_payment", {"amount": 3, "priority": 7, **variables}, business_key="B1")


# -- the wait -------------------------------------------------------------------------------------


def test_external_task__waits_for_a_worker_and_runs_nothing_in_process(engine) -> None:
    called: list[str] = []
    engine.handlers.register_service("payment", lambda call: called.append("ran") or None)
    instance = start_payment(engine)

    (task,) = engine.external_tasks(instance_id=instance.id)
    assert (task.topic, task.element_id, task.worker_id, task.retries) == (
        "payment",
        "Charge",
        None,
        None,
    )
    assert (task.priority, task.business_key, task.process_key) == (7, "B1", "ext_payment")
    assert task.process_definition_id.startswith("ext_payment:1:")
    assert task.properties == {"channel": "card"}
    assert engine.instance(instance.id).state == "running"
    assert called == []
    assert engine.tasks(instance_id=instance.id) == []


def test_priority__of_the_element_else_of_the_process_else_zero(engine) -> None:
    start_payment(engine, priority=12)  # camunda:taskPriority="${priority}" on the task
    engine.start("ext_deadline")  # camunda:taskPriority="40" on the process
    engine.start("ext_plain")  # none

    priorities = {t.element_id: t.priority for t in engine.external_tasks()}

    assert priorities == {"Charge": 12, "Slow": 40, "Work": 0}


def test_fetch_and_lock__returns_the_task_locked_with_process_and_input_variables(
    engine, clock: Clock
) -> None:
    instance = start_payment(engine)

    (locked,) = fetch(engine, "w1", "payment")

    assert (locked.worker_id, locked.lock_expires_at) == ("w1", clock.now + MINUTE)
    # The input parameter is the activity's own variable; the worker sees it too.
    assert locked.variables == {"amount": 3, "priority": 7, "charge_amount": 300}
    assert locked.instance_id == instance.id
    assert engine.external_task(locked.id).worker_id == "w1"


def test_fetch_and_lock__variables_names_and_local_only_as_camunda(engine) -> None:
    start_payment(engine)
    topic = FetchTopic(topic_name="payment", variables=("amount", "no_such_variable"))
    (named,) = engine.fetch_and_lock("w1", [topic], 1, lock_duration=MINUTE)
    engine.unlock_external_task(named.id)
    (local,) = engine.fetch_and_lock(
        "w1", [FetchTopic(topic_name="payment", local_variables=True)], 1, lock_duration=MINUTE
    )

    assert named.variables == {"amount": 3}
    assert local.variables == {"charge_amount": 300}


def test_fetch_and_lock__a_locked_task_is_not_fetched_again_until_its_lock_runs_out(
    engine, clock: Clock
) -> None:
    start_payment(engine)
    (first,) = fetch(engine, "w1", "payment")

    assert fetch(engine, "w2", "payment") == []
    clock.advance(seconds=59)
    assert fetch(engine, "w2", "payment") == []
    clock.advance(seconds=1)  # Camunda: a lock that expires now is free
    (again,) = fetch(engine, "w2", "payment")

    assert (again.id, again.worker_id) == (first.id, "w2")


def test_complete__by_the_first_worker_after_another_fetched_the_expired_task_is_refused(
    engine, clock: Clock
) -> None:
    instance = start_payment(engine)
    (first,) = fetch(engine, "w1", "payment")
    clock.advance(minutes=2)
    (second,) = fetch(engine, "w2", "payment")

    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch) as refused:
        engine.complete_external_task(first.id, "w1", {"receipt": "R-1"})

    assert refused.value.locked_by == "w2"
    assert isinstance(refused.value, flowdesk.ExternalTaskLockError)
    # Refused: nothing changed.
    assert engine.external_task(first.id).worker_id == "w2"
    assert "receipt" not in engine.instance(instance.id).variables
    engine.complete_external_task(second.id, "w2", {"receipt": "R-2"})
    assert only_task(engine, instance.id).element_id == "Ship"


def test_complete__after_the_lock_expired_without_a_new_fetch_succeeds(engine, clock) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")
    clock.advance(hours=1)

    engine.complete_external_task(task.id, "w1", {"receipt": "R-1"})

    assert only_task(engine, instance.id).element_id == "Ship"
    assert fetch(engine, "w1", "payment") == []


def test_complete__sets_variables_in_the_process_and_local_ones_only_for_the_activity(
    engine,
) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")

    after = engine.complete_external_task(
        task.id, "w1", {"paid": True}, local_variables={"receipt": "R-7"}
    )

    # The output parameter reads the local variable; the process does not get it.
    assert after.variables == {"amount": 3, "priority": 7, "paid": True, "receipt_text": "R-7"}
    assert engine.external_tasks() == []
    kinds = [(e.type, e.element_id) for e in engine.history(instance.id)]
    assert kinds.index(("external_task_created", "Charge")) < kinds.index(
        ("external_task_completed", "Charge")
    )


def test_complete__by_a_worker_that_did_not_lock_it_is_refused_and_changes_nothing(
    engine,
) -> None:
    instance = start_payment(engine)
    (task,) = engine.external_tasks()
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch) as not_locked:
        engine.complete_external_task(task.id, "w1")
    assert not_locked.value.locked_by is None

    fetch(engine, "w1", "payment")
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch):
        engine.complete_external_task(task.id, "intruder", {"receipt": "x"})

    assert engine.external_task(task.id).worker_id == "w1"
    assert engine.instance(instance.id).variables == {"amount": 3, "priority": 7}


def test_complete__of_an_unknown_task_is_not_found(engine) -> None:
    with pytest.raises(flowdesk.NotFound):
        engine.complete_external_task("no-such-task", "w1")
    with pytest.raises(flowdesk.NotFound):
        engine.handle_external_task_failure("no-such-task", "w1", "boom", retries=1)
    with pytest.raises(flowdesk.NotFound):
        engine.set_external_task_retries("no-such-task", 1)


# -- fetching: filters, limits, order -------------------------------------------------------------


def test_fetch_and_lock__filters_by_business_key_process_and_variables(engine) -> None:
    start_payment(engine, region="north")
    engine.start("ext_payment", {"amount": 1, "priority": 1, "region": "south"}, business_key="B2")
    engine.start("ext_plain", {"region": "north"})

    def ids(**filters: object) -> list[str | None]:
        topics = [FetchTopic(topic_name=t, **filters) for t in ("payment", "work")]  # type: ignore[arg-type]
        found = engine.fetch_and_lock("w", topics, 10, lock_duration=MINUTE)
        for task in found:
            engine.unlock_external_task(task.id)
        return sorted(f"{t.process_key}/{t.business_key}" for t in found)

    assert ids(business_key="B2") == ["ext_payment/B2"]
    assert ids(process_definition_key="ext_plain") == ["ext_plain/None"]
    assert ids(process_definition_key_in=("ext_payment",)) == [
        "ext_payment/B1",
        "ext_payment/B2",
    ]
    assert ids(process_variables={"region": "north"}) == ["ext_payment/B1", "ext_plain/None"]
    definition_id = engine.external_tasks(business_key="B1")[0].process_definition_id
    assert ids(process_definition_id=definition_id) == ["ext_payment/B1", "ext_payment/B2"]
    assert ids(process_definition_id="ext_payment:1:999999") == []
    assert len(engine.external_tasks(process_definition_id=definition_id)) == 2
    assert engine.external_tasks(process_definition_id="not-an-id") == []


def test_fetch_and_lock__takes_at_most_max_tasks_and_by_priority_when_asked(
    engine, clock: Clock
) -> None:
    low = start_payment(engine, priority=1)
    clock.advance(seconds=1)
    high = start_payment(engine, priority=90)

    (oldest,) = engine.fetch_and_lock("w1", ["payment"], 1, lock_duration=MINUTE)
    engine.unlock_external_task(oldest.id)
    (first,) = engine.fetch_and_lock("w1", ["payment"], 1, lock_duration=MINUTE, use_priority=True)

    assert oldest.instance_id == low.id
    assert (first.instance_id, first.priority) == (high.id, 90)
    assert engine.fetch_and_lock("w1", ["payment"], 0, lock_duration=MINUTE) == []
    assert engine.fetch_and_lock("w1", [], 5, lock_duration=MINUTE) == []


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("", ["payment"], 1), {"lock_duration": MINUTE}),
        (("w", ["payment"], -1), {"lock_duration": MINUTE}),
        (("w", ["payment"], 1), {"lock_duration": timedelta(0)}),
        (("w", ["payment"], 1), {}),
        (("w", ["payment", "payment"], 1), {"lock_duration": MINUTE}),
    ],
    ids=["empty worker", "negative max", "zero lock", "no lock", "topic twice"],
)
def test_fetch_and_lock__refuses_arguments_camunda_refuses(engine, args, kwargs) -> None:
    start_payment(engine)
    with pytest.raises(flowdesk.InvalidArgument):
        engine.fetch_and_lock(*args, **kwargs)
    assert engine.external_tasks(locked=True) == []


# -- failures, retries and incidents --------------------------------------------------------------


def test_failure__with_retries_left_is_fetched_again_after_the_retry_timeout(
    engine, clock: Clock
) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")

    failed = engine.handle_external_task_failure(
        task.id, "w1", "gateway timeout", "trace...", retries=2, retry_timeout=timedelta(minutes=5)
    )

    assert (failed.retries, failed.error_message, failed.error_details) == (
        2,
        "gateway timeout",
        "trace...",
    )
    assert engine.instance(instance.id).state == "running"
    clock.advance(minutes=4)
    assert fetch(engine, "w2", "payment") == []
    clock.advance(minutes=1)
    (again,) = fetch(engine, "w2", "payment")
    assert (again.id, again.retries, again.error_message) == (task.id, 2, "gateway timeout")


def test_failure__with_no_retries_left_is_an_incident_until_retries_are_set(
    engine, clock: Clock
) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")

    engine.handle_external_task_failure(task.id, "w1", "card service down", retries=0)

    in_incident = engine.instance(instance.id)
    assert (in_incident.state, in_incident.incident) == ("incident", "card service down")
    incidents = [e for e in engine.history(instance.id) if e.type == "incident"]
    assert [e.element_id for e in incidents] == ["Charge"]
    assert [t.id for t in engine.external_tasks(with_retries_left=False)] == [task.id]
    assert [i.id for i in engine.instances(state="incident")] == [instance.id]
    clock.advance(hours=1)
    assert fetch(engine, "w2", "payment") == []

    engine.set_external_task_retries(task.id, 3)

    assert engine.instance(instance.id).state == "running"
    (again,) = fetch(engine, "w2", "payment")
    assert (again.id, again.retries) == (task.id, 3)


def test_failure__then_complete_by_its_worker_goes_on_and_resolves_the_incident(engine) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")
    engine.handle_external_task_failure(task.id, "w1", "flaky", retries=0)

    after = engine.complete_external_task(task.id, "w1", {"receipt": "R-1"})

    assert (after.state, after.incident) == ("running", None)
    assert only_task(engine, instance.id).element_id == "Ship"


def test_retry__of_an_external_task_incident_gives_it_one_retry(engine) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")
    engine.handle_external_task_failure(task.id, "w1", "down", retries=0)

    retried = engine.retry(instance.id, user="ops")

    assert retried.state == "running"
    assert engine.external_task(task.id).retries == 1


def test_set_retries__to_zero_makes_an_incident_and_negative_is_refused(engine) -> None:
    instance = start_payment(engine)
    (task,) = engine.external_tasks()

    with pytest.raises(flowdesk.InvalidArgument):
        engine.set_external_task_retries(task.id, -1)
    assert engine.external_task(task.id).retries is None
    engine.set_external_task_retries(task.id, 0)

    assert engine.instance(instance.id).state == "incident"
    assert fetch(engine, "w1", "payment") == []


def test_failure__refuses_negative_retries_and_timeouts_and_other_workers(engine) -> None:
    start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")
    with pytest.raises(flowdesk.InvalidArgument):
        engine.handle_external_task_failure(task.id, "w1", "x", retries=-1)
    with pytest.raises(flowdesk.InvalidArgument):
        engine.handle_external_task_failure(
            task.id, "w1", "x", retries=1, retry_timeout=timedelta(seconds=-1)
        )
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch):
        engine.handle_external_task_failure(task.id, "w2", "x", retries=1)

    unchanged = engine.external_task(task.id)
    assert (unchanged.retries, unchanged.error_message, unchanged.worker_id) == (None, None, "w1")


# -- BPMN errors ----------------------------------------------------------------------------------


def test_bpmn_error__caught_by_the_boundary_event_with_its_code_message_and_variables(
    engine,
) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")

    after = engine.handle_external_task_bpmn_error(
        task.id, "w1", "CARD_DECLINED", "insufficient funds", {"declined_at": "till 3"}
    )

    assert only_task(engine, instance.id).element_id == "Call_customer"
    assert after.variables["error_code"] == "CARD_DECLINED"
    assert after.variables["error_message"] == "insufficient funds"
    assert after.variables["declined_at"] == "till 3"
    assert engine.external_tasks() == []


def test_bpmn_error__caught_by_an_error_event_subprocess(engine) -> None:
    instance = engine.start("ext_picking")
    (task,) = fetch(engine, "w1", "pick")

    engine.handle_external_task_bpmn_error(task.id, "w1", "OUT_OF_STOCK")

    assert only_task(engine, instance.id).element_id == "Reorder"
    assert engine.external_tasks() == []


def test_bpmn_error__nothing_catches_ends_the_tasks_path_as_camunda_7(engine) -> None:
    # Camunda 7 (without enableExceptionsAfterUnhandledBpmnError): the path ends there.
    instance = engine.start("ext_plain")
    (task,) = fetch(engine, "w1", "work")

    after = engine.handle_external_task_bpmn_error(task.id, "w1", "UNMODELLED")

    assert after.state == "completed"
    assert "error_thrown" in [e.type for e in engine.history(instance.id)]
    assert engine.external_tasks() == []


def test_bpmn_error__by_another_worker_is_refused(engine) -> None:
    instance = start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch):
        engine.handle_external_task_bpmn_error(task.id, "w2", "CARD_DECLINED")
    with pytest.raises(flowdesk.InvalidArgument):
        engine.handle_external_task_bpmn_error(task.id, "w1", "")
    assert engine.tasks(instance_id=instance.id) == []
    assert engine.external_task(task.id).worker_id == "w1"


# -- locks ----------------------------------------------------------------------------------------


def test_extend_lock__moves_the_expiry_for_its_worker_only(engine, clock: Clock) -> None:
    start_payment(engine)
    (task,) = engine.external_tasks()
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch):
        engine.extend_external_task_lock(task.id, "w1", MINUTE)  # not locked at all
    fetch(engine, "w1", "payment")
    clock.advance(seconds=30)

    extended = engine.extend_external_task_lock(task.id, "w1", timedelta(minutes=10))

    assert extended.lock_expires_at == clock.now + timedelta(minutes=10)
    with pytest.raises(flowdesk.ExternalTaskWorkerMismatch):
        engine.extend_external_task_lock(task.id, "w2", MINUTE)
    with pytest.raises(flowdesk.InvalidArgument):
        engine.extend_external_task_lock(task.id, "w1", timedelta(0))
    clock.advance(minutes=11)
    with pytest.raises(flowdesk.ExternalTaskLockExpired):
        engine.extend_external_task_lock(task.id, "w1", MINUTE)
    assert engine.external_task(task.id).lock_expires_at == extended.lock_expires_at


def test_unlock__lets_any_worker_fetch_the_task_again(engine) -> None:
    start_payment(engine)
    (task,) = fetch(engine, "w1", "payment")

    unlocked = engine.unlock_external_task(task.id)

    assert (unlocked.worker_id, unlocked.lock_expires_at) == (None, None)
    assert engine.external_tasks(locked=False)[0].id == task.id
    assert [t.worker_id for t in fetch(engine, "w2", "payment")] == ["w2"]
    assert [t.id for t in engine.external_tasks(locked=True, worker_id="w2")] == [task.id]


# -- cancellation ---------------------------------------------------------------------------------


def test_cancelled_by_an_interrupting_timer__the_external_task_disappears(
    engine, clock: Clock
) -> None:
    instance = engine.start("ext_deadline")
    (task,) = fetch(engine, "w1", "slow")
    clock.advance(hours=1)

    engine.run_due_jobs()

    assert engine.external_tasks() == []
    assert only_task(engine, instance.id).element_id == "Escalate"
    cancelled = [e for e in engine.history(instance.id) if e.type == "external_task_cancelled"]
    assert [(e.element_id, e.data["task_id"]) for e in cancelled] == [("Slow", task.id)]
    with pytest.raises(flowdesk.NotFound):
        engine.complete_external_task(task.id, "w1")


def test_terminate_end_event__removes_the_external_task_of_the_other_branch(engine) -> None:
    instance = engine.start("ext_abort")
    assert [t.element_id for t in engine.external_tasks(instance_id=instance.id)] == ["Audit"]

    after = engine.complete(only_task(engine, instance.id).id)

    assert after.state == "terminated"
    assert engine.external_tasks() == []


def test_called_instance_terminated_by_its_cancelled_call__loses_its_external_task(
    engine, clock: Clock
) -> None:
    caller = engine.start("ext_caller")
    (called,) = engine.instances(parent_id=caller.id)
    (task,) = engine.external_tasks(instance_id=called.id)
    clock.advance(hours=1)

    engine.run_due_jobs()

    assert engine.instance(called.id).state == "terminated"
    assert engine.instance(caller.id).state == "completed"
    assert engine.external_tasks() == []
    cancelled = [e for e in engine.history(called.id) if e.type == "external_task_cancelled"]
    assert [e.data["task_id"] for e in cancelled] == [task.id]


# -- kinds of external task -----------------------------------------------------------------------


def test_send_rule_and_message_throw_tasks_of_type_external_each_wait_for_a_worker(
    engine,
) -> None:
    instance = engine.start("ext_kinds")
    handled = []
    for topic in ("mail", "rules", "notify", "archive"):
        (task,) = engine.external_tasks(instance_id=instance.id)
        assert task.topic == topic
        (locked,) = fetch(engine, "w1", topic)
        handled.append(locked.element_id)
        engine.complete_external_task(locked.id, "w1")

    assert handled == ["Mail", "Rules", "Notify", "Archive"]
    assert engine.instance(instance.id).state == "completed"
    # Run as a service task, the message throw events send no message (Camunda's CAM-436).
    assert "message_thrown" not in [e.type for e in engine.history(instance.id)]


def test_multi_instance_external_task__one_task_per_element_with_its_own_variables(
    engine,
) -> None:
    instance = engine.start("ext_batch", {"parcels": ["p1", "p2", "p3"]})

    locked = fetch(engine, "w1", "label")

    assert sorted(t.variables["parcel"] for t in locked) == ["p1", "p2", "p3"]
    assert sorted(t.variables["loopCounter"] for t in locked) == [0, 1, 2]
    for task in locked:
        engine.complete_external_task(task.id, "w1")
    assert engine.instance(instance.id).state == "completed"


# -- the in-process worker ------------------------------------------------------------------------


def test_worker__runs_the_topic_handler_and_completes_with_its_variables(engine) -> None:
    seen = []

    def charge(call: flowdesk.ServiceCall) -> dict[str, object]:
        seen.append((call.element_id, call.business_key, call.variables["charge_amount"]))
        return {"receipt": f"R-{call.variables['charge_amount']}"}

    engine.handlers.register_service("payment", charge)
    instance = start_payment(engine)

    result = ExternalTaskWorker(engine, ["payment"], worker_id="w1").run_once()

    assert (result.completed, seen) == (1, [("Charge", "B1", 300)])
    assert engine.instance(instance.id).variables["receipt_text"] == "R-300"


def test_worker__a_failing_handler_counts_its_retries_down_to_an_incident(
    engine, clock: Clock
) -> None:
    def down(call: flowdesk.ServiceCall) -> None:
        raise ConnectionError("card service down")

    engine.handlers.register_service("payment", down)
    instance = start_payment(engine)
    worker = ExternalTaskWorker(engine, ["payment"], retries=2, retry_timeout=MINUTE)

    assert worker.run_once().failed == 1
    (task,) = engine.external_tasks()
    assert (task.retries, engine.instance(instance.id).state) == (1, "running")
    assert worker.run_once().handled == 0  # within the retry timeout
    clock.advance(minutes=1)
    assert worker.run_once().failed == 1

    after = engine.instance(instance.id)
    assert (after.state, after.incident) == ("incident", "ConnectionError: card service down")
    assert "Traceback" in (engine.external_task(task.id).error_details or "")


def test_worker__a_bpmn_error_from_the_handler_is_caught_by_the_boundary_event(engine) -> None:
    def decline(call: flowdesk.ServiceCall) -> None:
        raise flowdesk.BpmnError("CARD_DECLINED", "no funds")

    engine.handlers.register_service("payment", decline)
    instance = start_payment(engine)

    assert ExternalTaskWorker(engine, ["payment"]).run_once().bpmn_errors == 1
    assert only_task(engine, instance.id).element_id == "Call_customer"


def test_worker__without_a_handler_for_its_topic_is_refused(engine) -> None:
    with pytest.raises(flowdesk.InvalidArgument):
        ExternalTaskWorker(engine, ["nobody_handles_this"])
