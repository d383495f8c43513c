"""Repositories and units of work, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowdesk.errors import ConcurrencyConflict, NotFound, StoreError
from flowdesk.store import (
    DefinitionRow,
    InstanceRow,
    InstanceState,
    JobRow,
    JobState,
    Store,
    SubscriptionKind,
    SubscriptionRow,
    TaskState,
    UnitOfWork,
    UserTaskRow,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# --- factories -------------------------------------------------------------------------------


def add_definition(
    uow: UnitOfWork, key: str = "order_review", *, xml: str = "<v1/>", kind: str = "process"
) -> DefinitionRow:
    return uow.definitions.add(
        key=key,
        name=key.replace("_", " ").title(),
        kind=kind,
        resource_name=f"{key}.bpmn",
        content_hash=f"hash-of-{xml}",
        xml=xml,
        deployed_at=T0,
    )


def instance_row(definition: DefinitionRow, id: str = "i-1", **changes: Any) -> InstanceRow:
    row = InstanceRow(
        id=id,
        definition_id=definition.id,
        process_key=definition.key,
        version=definition.version,
        business_key=None,
        state=InstanceState.RUNNING,
        variables={"amount": 120000},
        workflow_state='{"opaque": true}',
        serializer_version="spiff-3.2",
        lock_version=0,
        started_at=T0,
    )
    return dataclasses.replace(row, **changes)


def task_row(instance_id: str, id: str = "t-1", **changes: Any) -> UserTaskRow:
    row = UserTaskRow(
        id=id,
        instance_id=instance_id,
        element_id="review",
        name="Review order",
        state=TaskState.OPEN,
        assignee=None,
        candidate_groups=(),
        candidate_users=(),
        form_key="embedded:review",
        form_fields=[{"id": "approved", "type": "boolean", "required": True}],
        documentation="Check the order.",
        due=None,
        priority=50,
        created_at=T0,
    )
    return dataclasses.replace(row, **changes)


def job_row(instance_id: str, id: str = "j-1", **changes: Any) -> JobRow:
    row = JobRow(
        id=id,
        instance_id=instance_id,
        element_id="wait_a_day",
        task_ref=f"ref-{id}",
        type="timer",
        due_at=T0,
        state=JobState.WAITING,
        attempts=0,
        retries_left=3,
        created_at=T0 - minutes(60),
    )
    return dataclasses.replace(row, **changes)


def subscription_row(id: str = "s-1", **changes: Any) -> SubscriptionRow:
    row = SubscriptionRow(
        id=id,
        instance_id=None,
        definition_id=None,
        kind=SubscriptionKind.MESSAGE,
        name="customer_feedback",
        element_id="wait_feedback",
        task_ref=None,
        business_key=None,
        created_at=T0,
    )
    return dataclasses.replace(row, **changes)


@pytest.fixture
def started_instance(store: Store) -> InstanceRow:
    """A running instance of `order_review` v1 with business key SO-1."""
    with store.unit_of_work() as uow:
        row = instance_row(add_definition(uow), business_key="SO-1")
        uow.instances.add(row)
    return row


# --- Store and unit of work ------------------------------------------------------------------


def test_unit_of_work__exception_leaves_nothing_written(store):
    with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as uow:
        definition = add_definition(uow)
        uow.instances.add(instance_row(definition))
        uow.tasks.add(task_row("i-1", candidate_groups=("sales",)))
        uow.history.add(instance_id="i-1", type="instance_started", at=T0)
        uow.jobs.add(job_row("i-1"))
        uow.subscriptions.add(subscription_row(instance_id="i-1"))
        raise RuntimeError("boom")

    with store.unit_of_work() as uow:
        assert uow.definitions.list() == []
        assert uow.instances.list() == []
        assert uow.tasks.list(state=None) == []
        assert uow.history.list() == []
        assert uow.jobs.list() == []
        assert uow.subscriptions.list() == []


def test_unit_of_work__commits_on_normal_exit(store):
    with store.unit_of_work() as uow:
        add_definition(uow)

    other = Store(store.url)  # another engine: sees only what was committed
    try:
        with other.unit_of_work() as uow:
            assert [d.key for d in uow.definitions.list()] == ["order_review"]
    finally:
        other.dispose()


def test_unit_of_work__database_error_is_store_error_and_rolls_back(store):
    with pytest.raises(StoreError) as caught, store.unit_of_work() as uow:
        definition = add_definition(uow)
        uow.instances.add(instance_row(definition, id="dup"))
        uow.instances.add(instance_row(definition, id="dup"))

    assert caught.value.__cause__ is not None
    assert "SQL" not in str(caught.value)  # no statement, no parameters in the message
    with store.unit_of_work() as uow:
        assert uow.definitions.list() == []


def test_unit_of_work__foreign_keys_are_enforced(store):
    with pytest.raises(StoreError), store.unit_of_work() as uow:
        uow.tasks.add(task_row("no-such-instance"))


def test_unit_of_work__readonly_rejects_writes(store):
    with pytest.raises(StoreError), store.unit_of_work(readonly=True) as uow:
        add_definition(uow)

    with store.unit_of_work() as uow:  # the connection is writable again afterwards
        add_definition(uow)
    with store.unit_of_work(readonly=True) as uow:
        assert len(uow.definitions.list()) == 1


def test_unit_of_work__readonly_in_memory_rolls_back_a_write_with_store_error():
    store = Store("sqlite://")
    try:
        with pytest.raises(StoreError, match="read-only"), store.unit_of_work(readonly=True) as uow:
            add_definition(uow)
        with store.unit_of_work(readonly=True) as uow:
            assert uow.definitions.list() == []
        with store.unit_of_work() as uow:  # writers still write
            add_definition(uow)
        with store.unit_of_work(readonly=True) as uow:
            assert len(uow.definitions.list()) == 1
    finally:
        store.dispose()


def test_unit_of_work__readonly_reads_beside_a_writer(store, started_instance):
    with store.unit_of_work() as writer:
        writer.history.add(instance_id="i-1", type="uncommitted", at=T0)
        with store.unit_of_work(readonly=True) as reader:
            assert reader.instances.get("i-1") == started_instance
            assert reader.history.list() == []


def test_store__bare_postgresql_url_means_psycopg(db_url):
    bare = db_url.replace("postgresql+psycopg://", "postgresql://")
    store = Store(bare)
    try:
        assert store.url == db_url
        assert store.dialect in ("sqlite", "postgresql")
        assert store.dialect == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    finally:
        store.dispose()


def test_store__sqlite_file_uses_wal(db_url, store):
    if store.dialect != "sqlite":
        return
    path = db_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "sqlite+aiosqlite://", "not a url"]
)
def test_store__rejects_other_databases(url):
    with pytest.raises(ValueError):
        Store(url)


# --- definitions -----------------------------------------------------------------------------


def test_definitions_add__numbers_versions_per_kind_and_key(store):
    with store.unit_of_work() as uow:
        v1 = add_definition(uow, xml="<v1/>")
        v2 = add_definition(uow, xml="<v2/>")
        other = add_definition(uow, "invoice", xml="<v1/>")
        decision = add_definition(uow, kind="decision", xml="<dmn/>")

    assert (v1.version, v2.version, other.version, decision.version) == (1, 2, 1, 1)
    assert v1.deployed_at == T0
    with store.unit_of_work() as uow:
        assert uow.definitions.get(v2.id) == v2


def test_definitions_get__unknown_id_raises_not_found(store):
    with pytest.raises(NotFound) as caught, store.unit_of_work() as uow:
        uow.definitions.get(404)
    assert (caught.value.kind, caught.value.ident) == ("definition", "404")


def test_definitions_lookups(store):
    with store.unit_of_work() as uow:
        v1 = add_definition(uow, xml="<v1/>")
        v2 = add_definition(uow, xml="<v2/>")
        add_definition(uow, "invoice")

    with store.unit_of_work() as uow:
        assert uow.definitions.find_by_hash("process", "order_review", "hash-of-<v1/>") == v1
        assert uow.definitions.find_by_hash("process", "order_review", "other") is None
        assert uow.definitions.find_by_hash("decision", "order_review", "hash-of-<v1/>") is None
        assert uow.definitions.latest("process", "order_review") == v2
        assert uow.definitions.latest("process", "order_review", max_id=v1.id) == v1
        assert uow.definitions.latest("process", "missing") is None
        assert uow.definitions.find_version("process", "order_review", 1) == v1
        assert uow.definitions.find_version("process", "order_review", 3) is None


def test_definitions_list__filters_and_orders_by_key_then_version(store):
    with store.unit_of_work() as uow:
        add_definition(uow, "zeta")
        add_definition(uow, "alpha", xml="<v1/>")
        add_definition(uow, "alpha", xml="<v2/>")
        add_definition(uow, "table", kind="decision")

    with store.unit_of_work() as uow:
        listed = [(d.key, d.version) for d in uow.definitions.list()]
        latest = [(d.key, d.version) for d in uow.definitions.list(latest_only=True)]
        processes = [d.key for d in uow.definitions.list(kind="process", latest_only=True)]
        alphas = [d.version for d in uow.definitions.list(key="alpha")]

    assert listed == [("alpha", 1), ("alpha", 2), ("table", 1), ("zeta", 1)]
    assert latest == [("alpha", 2), ("table", 1), ("zeta", 1)]
    assert processes == ["alpha", "zeta"]
    assert alphas == [1, 2]


# --- instances -------------------------------------------------------------------------------


def test_instances_add__round_trips_every_field(store):
    with store.unit_of_work() as uow:
        row = instance_row(
            add_definition(uow),
            business_key="SO-1",
            variables={"amount": 120000, "lines": [{"sku": "A"}], "ok": True},
            ended_at=T0 + minutes(5),
            incident="handler failed",
        )
        uow.instances.add(row)

    with store.unit_of_work() as uow:
        assert uow.instances.get("i-1") == row
        assert uow.instances.find("i-1") == row


def test_instances_get__unknown_id_raises_not_found(store):
    with store.unit_of_work() as uow:
        assert uow.instances.find("nope") is None
        with pytest.raises(NotFound) as caught:
            uow.instances.get("nope")
    assert (caught.value.kind, caught.value.ident) == ("instance", "nope")


def test_instances_list__filters_and_orders_by_start(store):
    with store.unit_of_work() as uow:
        review = add_definition(uow)
        invoice = add_definition(uow, "invoice")
        uow.instances.add(instance_row(review, "c", started_at=T0 + minutes(2)))
        uow.instances.add(instance_row(review, "b", started_at=T0, business_key="SO-1"))
        uow.instances.add(instance_row(review, "a", started_at=T0, state=InstanceState.COMPLETED))
        uow.instances.add(instance_row(invoice, "d", started_at=T0 + minutes(1)))

    with store.unit_of_work() as uow:

        def ids(**filters: Any) -> list[str]:
            return [row.id for row in uow.instances.list(**filters)]

        assert ids() == ["a", "b", "d", "c"]
        assert ids(process_key="order_review") == ["a", "b", "c"]
        assert ids(process_key="order_review", state=InstanceState.RUNNING) == ["b", "c"]
        assert ids(business_key="SO-1") == ["b"]
        assert ids(definition_id=invoice.id) == ["d"]
        assert ids(limit=2) == ["a", "b"]
        assert ids(state=InstanceState.TERMINATED) == []


def test_instances_update__saves_changes_and_bumps_lock_version(store, started_instance):
    with store.unit_of_work() as uow:
        saved = uow.instances.update(
            "i-1",
            expected_lock_version=0,
            state=InstanceState.COMPLETED,
            variables={"approved": True},
            workflow_state=None,
            ended_at=T0 + minutes(3),
        )

    assert saved == dataclasses.replace(
        started_instance,
        state=InstanceState.COMPLETED,
        variables={"approved": True},
        workflow_state=None,
        ended_at=T0 + minutes(3),
        lock_version=1,
    )
    with store.unit_of_work() as uow:
        assert uow.instances.get("i-1") == saved


def test_instances_update__stale_lock_version_raises_concurrency_conflict(store, started_instance):
    with store.unit_of_work() as uow:
        uow.instances.update("i-1", expected_lock_version=0, variables={"by": "first"})

    with pytest.raises(ConcurrencyConflict) as caught, store.unit_of_work() as uow:
        uow.history.add(instance_id="i-1", type="should_vanish", at=T0)
        uow.instances.update("i-1", expected_lock_version=0, variables={"by": "second"})

    assert caught.value.instance_id == "i-1"
    with store.unit_of_work() as uow:
        assert uow.instances.get("i-1").variables == {"by": "first"}
        assert uow.instances.get("i-1").lock_version == 1
        assert uow.history.list() == []


def test_instances_update__concurrent_savers_of_one_version_one_wins(store, started_instance):
    """Two workers load the same version, then both save: one wins, one conflicts."""
    barrier = threading.Barrier(2, timeout=10)

    def save(worker: str) -> str:
        with store.unit_of_work(readonly=True) as uow:
            loaded = uow.instances.get("i-1")
        barrier.wait()
        try:
            with store.unit_of_work() as uow:
                uow.instances.update(
                    "i-1", expected_lock_version=loaded.lock_version, variables={"by": worker}
                )
        except ConcurrencyConflict:
            return "conflict"
        return "saved"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(save, ["w1", "w2"]))

    assert outcomes == ["conflict", "saved"]
    with store.unit_of_work() as uow:
        assert uow.instances.get("i-1").lock_version == 1


@pytest.mark.postgresql
def test_instances_update__concurrent_transactions_one_wins(store, started_instance):
    """Both load and save inside one open transaction; the loser waits, then conflicts."""
    barrier = threading.Barrier(2, timeout=10)

    def load_and_save(worker: str) -> str:
        try:
            with store.unit_of_work() as uow:
                loaded = uow.instances.get("i-1")
                barrier.wait()
                uow.instances.update(
                    "i-1", expected_lock_version=loaded.lock_version, variables={"by": worker}
                )
        except ConcurrencyConflict:
            return "conflict"
        return "saved"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(load_and_save, ["w1", "w2"]))

    assert outcomes == ["conflict", "saved"]


def test_instances_update__unknown_instance_raises_not_found(store):
    with pytest.raises(NotFound), store.unit_of_work() as uow:
        uow.instances.update("nope", expected_lock_version=0, state=InstanceState.COMPLETED)


@pytest.mark.parametrize("field", ["id", "lock_version", "colour"])
def test_instances_update__unchangeable_field_raises_type_error(store, started_instance, field):
    with pytest.raises(TypeError, match=field), store.unit_of_work() as uow:
        uow.instances.update("i-1", expected_lock_version=0, **{field: "x"})


# --- user tasks ------------------------------------------------------------------------------


def test_tasks_add__round_trips_and_reads_keys_from_the_instance(store, started_instance):
    row = task_row(
        "i-1",
        assignee="alice",
        candidate_groups=("sales", "leadership", "sales"),
        candidate_users=("bob",),
        due=T0 + timedelta(days=2),
        claimed_at=T0 + minutes(1),
        properties={"colour": "red"},
        process_key="ignored",
    )
    with store.unit_of_work() as uow:
        uow.tasks.add(row)

    with store.unit_of_work() as uow:
        read = uow.tasks.get("t-1")
        assert uow.tasks.find("t-1") == read
    assert read == dataclasses.replace(
        row,
        candidate_groups=("leadership", "sales"),  # stored once each, returned sorted
        process_key="order_review",
        business_key="SO-1",
    )


def test_tasks_get_with_instance__gives_the_task_and_its_instance_without_its_workflow(
    store, started_instance
):
    with store.unit_of_work() as uow:
        uow.tasks.add(task_row("i-1", candidate_users=("bob", "ann"), candidate_groups=("x",)))
        uow.tasks.add(task_row("i-1", id="t-2"))  # no candidates at all

    with store.unit_of_work() as uow:
        task, instance = uow.tasks.get_with_instance_for_update("t-1")
        assert task == uow.tasks.get("t-1")
        assert task.candidate_users == ("ann", "bob")
        assert uow.tasks.get_with_instance_for_update("t-2")[0] == uow.tasks.get("t-2")
        assert instance == uow.instances.summary("i-1")
        assert instance == dataclasses.replace(started_instance, workflow_state=None)
        with pytest.raises(NotFound):
            uow.tasks.get_with_instance_for_update("nope")


def test_tasks_get__unknown_id_raises_not_found(store):
    with store.unit_of_work() as uow:
        assert uow.tasks.find("nope") is None
        with pytest.raises(NotFound) as caught:
            uow.tasks.get("nope")
    assert (caught.value.kind, caught.value.ident) == ("task", "nope")


@pytest.fixture
def task_board(store, started_instance):
    """Tasks of two instances with assorted states, assignees and candidates."""
    with store.unit_of_work() as uow:
        invoice = add_definition(uow, "invoice")
        uow.instances.add(instance_row(invoice, "i-2", business_key="INV-7"))
        tasks = [
            task_row("i-1", "t-sales", candidate_groups=("sales",), created_at=T0),
            task_row("i-1", "t-lead", candidate_groups=("leadership",), created_at=T0 + minutes(1)),
            task_row("i-1", "t-bob", candidate_users=("bob",), created_at=T0 + minutes(2)),
            task_row(
                "i-2",
                "t-mixed",
                element_id="approve",
                candidate_groups=("sales", "finance"),
                candidate_users=("carol",),
                created_at=T0 + minutes(3),
            ),
            task_row("i-2", "t-alice", assignee="alice", created_at=T0 + minutes(4)),
            task_row(
                "i-1",
                "t-done",
                state=TaskState.COMPLETED,
                candidate_groups=("sales",),
                created_at=T0 - minutes(1),
            ),
        ]
        for task in tasks:
            uow.tasks.add(task)


def test_tasks_list__filters(store, task_board):
    with store.unit_of_work() as uow:

        def ids(**filters: Any) -> list[str]:
            return [task.id for task in uow.tasks.list(**filters)]

        assert ids() == ["t-sales", "t-lead", "t-bob", "t-mixed", "t-alice"]
        assert ids(state=None) == ["t-done", "t-sales", "t-lead", "t-bob", "t-mixed", "t-alice"]
        assert ids(state=TaskState.COMPLETED) == ["t-done"]
        assert ids(instance_id="i-2") == ["t-mixed", "t-alice"]
        assert ids(assignee="alice") == ["t-alice"]
        assert ids(candidate_group="sales") == ["t-sales", "t-mixed"]
        assert ids(candidate_groups=["leadership", "finance"]) == ["t-lead", "t-mixed"]
        assert ids(candidate_groups=[]) == []
        assert ids(candidate_user="bob") == ["t-bob"]
        # offered to carol directly, or through her group "leadership"
        assert ids(candidate_user="carol", candidate_groups=["leadership"]) == [
            "t-lead",
            "t-mixed",
        ]
        assert ids(candidate_group="sales", candidate_user="carol") == ["t-mixed"]
        assert ids(process_key="invoice") == ["t-mixed", "t-alice"]
        assert ids(business_key="SO-1") == ["t-sales", "t-lead", "t-bob"]
        assert ids(element_id="approve") == ["t-mixed"]
        assert ids(limit=2) == ["t-sales", "t-lead"]
        assert ids(candidate_group="nobody") == []
        # A state that is no task state matches nothing, with or without other filters; the
        # known states are written into the SQL, an unknown one never is.
        for state in ("bogus", "open' OR '1'='1"):
            assert ids(state=state) == []
            assert ids(state=state, candidate_group="sales") == []
        assert ids(state=TaskState.CANCELLED, limit=1) == []


def test_tasks_update__changes_fields_and_rewrites_candidates(store, task_board):
    with store.unit_of_work() as uow:
        updated = uow.tasks.update(
            "t-mixed",
            assignee="carol",
            claimed_at=T0 + minutes(10),
            candidate_groups=["support"],
        )

    assert updated.assignee == "carol"
    assert updated.claimed_at == T0 + minutes(10)
    assert updated.candidate_groups == ("support",)
    assert updated.candidate_users == ("carol",)  # not given: unchanged
    assert updated.business_key == "INV-7"
    with store.unit_of_work() as uow:
        assert uow.tasks.get("t-mixed") == updated
        assert [t.id for t in uow.tasks.list(candidate_group="sales")] == ["t-sales"]
        only_users = uow.tasks.update("t-mixed", candidate_users=[])
    assert only_users.candidate_users == ()
    assert only_users.candidate_groups == ("support",)


def test_tasks_update__same_candidates_after_a_read_in_one_unit_of_work(store, task_board):
    with store.unit_of_work() as uow:
        before = uow.tasks.get("t-mixed")
        after = uow.tasks.update(
            "t-mixed",
            candidate_groups=before.candidate_groups,
            candidate_users=before.candidate_users,
        )
    assert after == before


def test_tasks_update__completes_a_task(store, task_board):
    with store.unit_of_work() as uow:
        uow.tasks.update(
            "t-sales",
            state=TaskState.COMPLETED,
            completed_at=T0 + minutes(5),
            completed_by="alice",
        )

    with store.unit_of_work() as uow:
        assert "t-sales" not in [t.id for t in uow.tasks.list()]
        done = uow.tasks.get("t-sales")
    assert (done.state, done.completed_by) == (TaskState.COMPLETED, "alice")


def test_tasks_update__unknown_task_or_field_raises(store, task_board):
    with pytest.raises(NotFound), store.unit_of_work() as uow:
        uow.tasks.update("nope", assignee="x")
    with pytest.raises(NotFound), store.unit_of_work() as uow:
        uow.tasks.update("nope", candidate_groups=["x"])
    with pytest.raises(TypeError), store.unit_of_work() as uow:
        uow.tasks.update("t-sales", process_key="x")


def test_tasks_reassign__moves_open_assignments_and_candidacies(store, started_instance):
    with store.unit_of_work() as uow:
        uow.tasks.add(task_row("i-1", "held", assignee="alice"))
        uow.tasks.add(task_row("i-1", "offered", candidate_users=("alice", "bob")))
        uow.tasks.add(task_row("i-1", "both", candidate_users=("alice", "carol")))
        uow.tasks.add(task_row("i-1", "done", assignee="alice", state=TaskState.COMPLETED))
        uow.tasks.add(task_row("i-1", "other", assignee="bob"))

    with store.unit_of_work() as uow:
        moved = uow.tasks.reassign("alice", "carol")

    assert moved == 3
    with store.unit_of_work() as uow:
        assert uow.tasks.get("held").assignee == "carol"
        assert uow.tasks.get("offered").candidate_users == ("bob", "carol")
        assert uow.tasks.get("both").candidate_users == ("carol",)
        assert uow.tasks.get("done").assignee == "alice"
        assert uow.tasks.get("other").assignee == "bob"
        assert uow.tasks.reassign("alice", "carol") == 0
        assert uow.tasks.reassign("carol", "carol") == 0


# --- history ---------------------------------------------------------------------------------


def test_history__lists_oldest_first_with_filters(store, started_instance):
    with store.unit_of_work() as uow:
        first = uow.history.add(instance_id="i-1", type="instance_started", at=T0, user="alice")
        uow.history.add(instance_id="other", type="instance_started", at=T0)
        uow.history.add(
            instance_id="i-1",
            type="task_completed",
            at=T0 - minutes(1),  # ordered by insertion, not by time
            element_id="review",
            user="bob",
            data={"approved": True},
        )

    assert first.id > 0
    assert first.data == {}
    with store.unit_of_work() as uow:
        events = uow.history.list("i-1")
        assert [e.type for e in uow.history.list()] == [
            "instance_started",
            "instance_started",
            "task_completed",
        ]
        assert [e.type for e in uow.history.list("i-1", types={"task_completed"})] == [
            "task_completed"
        ]
    assert events[0] == first
    assert [e.type for e in events] == ["instance_started", "task_completed"]
    assert events[1].data == {"approved": True}
    assert events[1].element_id == "review"
    assert events[0].id < events[1].id


# --- jobs ------------------------------------------------------------------------------------


def test_jobs__add_get_list_update_delete(store, started_instance):
    with store.unit_of_work() as uow:
        later = job_row("i-1", "later", due_at=T0 + minutes(5), payload={"cycle": "R3/PT1H"})
        soon = job_row("i-1", "soon", due_at=T0)
        uow.jobs.add(later)
        uow.jobs.add(soon)

    with store.unit_of_work() as uow:
        assert uow.jobs.get("later") == later
        assert uow.jobs.list() == [soon, later]
        assert uow.jobs.list(instance_id="i-1", state=JobState.FAILED) == []
        failed = uow.jobs.update("soon", state=JobState.FAILED, attempts=1, error="boom")
        assert failed == dataclasses.replace(soon, state=JobState.FAILED, attempts=1, error="boom")
        assert uow.jobs.list(state=JobState.FAILED) == [failed]
        uow.jobs.delete("later")
        assert uow.jobs.list() == [failed]
        with pytest.raises(NotFound):
            uow.jobs.delete("later")
        with pytest.raises(NotFound):
            uow.jobs.get("later")
        with pytest.raises(NotFound):
            uow.jobs.update("later", attempts=2)


def test_jobs__delete_then_add_the_same_id_in_one_unit_of_work(store, started_instance):
    with store.unit_of_work() as uow:
        uow.jobs.add(job_row("i-1", "cycle", due_at=T0))
        uow.jobs.get("cycle")
        uow.jobs.delete("cycle")
        uow.jobs.add(job_row("i-1", "cycle", due_at=T0 + minutes(60)))
        assert uow.jobs.get("cycle").due_at == T0 + minutes(60)

    with store.unit_of_work() as uow:
        assert [(j.id, j.due_at) for j in uow.jobs.list()] == [("cycle", T0 + minutes(60))]


def test_jobs_acquire_due__leases_due_free_jobs_soonest_first(store, started_instance):
    with store.unit_of_work() as uow:
        uow.jobs.add(job_row("i-1", "b", due_at=T0 - minutes(1)))
        uow.jobs.add(job_row("i-1", "a", due_at=T0 - minutes(1)))
        uow.jobs.add(job_row("i-1", "c", due_at=T0))
        uow.jobs.add(job_row("i-1", "future", due_at=T0 + minutes(1)))
        uow.jobs.add(job_row("i-1", "failed", due_at=T0 - minutes(9), state=JobState.FAILED))
        uow.jobs.add(
            job_row(
                "i-1",
                "leased",
                due_at=T0 - minutes(9),
                locked_by="w0",
                lock_expires_at=T0 + minutes(1),
            )
        )

    with store.unit_of_work() as uow:
        first = uow.jobs.acquire_due(T0, owner="w1", lease=minutes(5), limit=2)
    with store.unit_of_work() as uow:
        rest = uow.jobs.acquire_due(T0, owner="w2", lease=minutes(5), limit=10)
        none_left = uow.jobs.acquire_due(T0, owner="w3", lease=minutes(5), limit=10)

    assert [(j.id, j.locked_by, j.lock_expires_at) for j in first] == [
        ("a", "w1", T0 + minutes(5)),
        ("b", "w1", T0 + minutes(5)),
    ]
    assert [(j.id, j.locked_by) for j in rest] == [("c", "w2")]
    assert none_left == []
    with store.unit_of_work() as uow:
        assert uow.jobs.get("a") == first[0]


def test_jobs_acquire_due__takes_over_expired_leases(store, started_instance):
    with store.unit_of_work() as uow:
        uow.jobs.add(job_row("i-1", "j", due_at=T0))
        uow.jobs.acquire_due(T0, owner="w1", lease=minutes(5), limit=1)

    with store.unit_of_work() as uow:
        assert uow.jobs.acquire_due(T0 + minutes(4), owner="w2", lease=minutes(5), limit=1) == []
        taken = uow.jobs.acquire_due(T0 + minutes(6), owner="w2", lease=minutes(5), limit=1)

    assert [(j.id, j.locked_by, j.lock_expires_at) for j in taken] == [
        ("j", "w2", T0 + minutes(11))
    ]


@pytest.mark.postgresql
def test_jobs_acquire_due__concurrent_workers_skip_locked_rows(store, started_instance):
    with store.unit_of_work() as uow:
        for n in range(5):
            uow.jobs.add(job_row("i-1", f"j{n}", due_at=T0 + minutes(n)))
    later = T0 + minutes(10)

    # Two open transactions on two connections: the second neither waits for the rows the
    # first has locked nor leases them again.
    with store.unit_of_work() as first, store.unit_of_work() as second:
        mine = first.jobs.acquire_due(later, owner="w1", lease=minutes(5), limit=2)
        theirs = second.jobs.acquire_due(later, owner="w2", lease=minutes(5), limit=10)

    assert [j.id for j in mine] == ["j0", "j1"]
    assert [j.id for j in theirs] == ["j2", "j3", "j4"]
    with store.unit_of_work() as uow:
        assert {j.id: j.locked_by for j in uow.jobs.list()} == {
            "j0": "w1",
            "j1": "w1",
            "j2": "w2",
            "j3": "w2",
            "j4": "w2",
        }


@pytest.mark.postgresql
def test_jobs_acquire_due__threads_lease_each_job_once(store, started_instance):
    with store.unit_of_work() as uow:
        for n in range(40):
            uow.jobs.add(job_row("i-1", f"j{n:02}", due_at=T0 - minutes(n)))
    barrier = threading.Barrier(4, timeout=10)

    def work(owner: str) -> list[str]:
        barrier.wait()
        leased: list[str] = []
        while True:
            with store.unit_of_work() as uow:
                batch = uow.jobs.acquire_due(T0, owner=owner, lease=minutes(5), limit=3)
            if not batch:
                return leased
            leased += [j.id for j in batch]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, ["w1", "w2", "w3", "w4"]))

    everything = [job for leased in results for job in leased]
    assert sorted(everything) == [f"j{n:02}" for n in range(40)]


# --- subscriptions ---------------------------------------------------------------------------


def test_subscriptions__list_filters_and_delete(store, started_instance):
    with store.unit_of_work() as uow:
        start = subscription_row(
            "start", definition_id=started_instance.definition_id, created_at=T0 - minutes(1)
        )
        waiting = subscription_row(
            "waiting", instance_id="i-1", task_ref="ref-1", business_key="SO-1"
        )
        signal = subscription_row(
            "signal",
            instance_id="i-1",
            kind=SubscriptionKind.SIGNAL,
            name="stop",
            created_at=T0 + minutes(1),
        )
        for row in (start, waiting, signal):
            uow.subscriptions.add(row)

    with store.unit_of_work() as uow:

        def ids(**filters: Any) -> list[str]:
            return [s.id for s in uow.subscriptions.list(**filters)]

        assert uow.subscriptions.list() == [start, waiting, signal]
        assert ids(kind=SubscriptionKind.MESSAGE) == ["start", "waiting"]
        assert ids(name="customer_feedback") == ["start", "waiting"]
        assert ids(kind=SubscriptionKind.MESSAGE, business_key="SO-1") == ["waiting"]
        assert ids(instance_id="i-1") == ["waiting", "signal"]
        assert ids(start_events_only=True) == ["start"]

        uow.subscriptions.delete("signal")
        with pytest.raises(NotFound):
            uow.subscriptions.delete("signal")
        uow.subscriptions.delete_for_instance("i-1")
        assert ids() == ["start"]
        uow.subscriptions.delete_for_definition(started_instance.definition_id)
        assert ids() == []
        uow.subscriptions.delete_for_instance("i-1")  # nothing left: no error


def test_instances__lists_and_summaries_leave_the_serialized_workflow_out(store: Store) -> None:
    with store.unit_of_work() as uow:
        definition = add_definition(uow)
        uow.instances.add(instance_row(definition, workflow_state="x" * 100_000))
    with store.unit_of_work(readonly=True) as uow:
        (listed,) = uow.instances.list(process_key="order_review")
        summary = uow.instances.summary("i-1")
        full = uow.instances.get("i-1")
    assert listed.workflow_state is None and summary.workflow_state is None
    assert full.workflow_state == "x" * 100_000
    assert dataclasses.replace(listed, workflow_state=full.workflow_state) == full
    assert dataclasses.replace(summary, workflow_state=full.workflow_state) == full


def test_instances__summary_of_an_unknown_instance_is_not_found(store: Store) -> None:
    with store.unit_of_work(readonly=True) as uow, pytest.raises(NotFound):
        uow.instances.summary("no-such-instance")
