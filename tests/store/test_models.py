"""Column types of the store: enum values as stored, aware UTC datetimes, JSON documents."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from flowdesk.store import (
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
    models,
)

T0 = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=1), "CET")


def _definition_id(uow: UnitOfWork) -> int:
    return uow.definitions.add(
        key="order_review",
        name="Order review",
        kind="process",
        resource_name="order_review.bpmn",
        content_hash="abc",
        xml="<definitions/>",
        deployed_at=T0,
    ).id


def _instance(definition_id: int, *, id: str = "i-1", **changes: object) -> InstanceRow:
    values: dict[str, object] = {
        "id": id,
        "definition_id": definition_id,
        "process_key": "order_review",
        "version": 1,
        "business_key": "SO-1",
        "state": InstanceState.RUNNING,
        "variables": {},
        "workflow_state": None,
        "serializer_version": "1",
        "lock_version": 0,
        "started_at": T0,
    }
    values.update(changes)
    return InstanceRow(**values)  # type: ignore[arg-type]


def _raw(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def _store_enum(uow: UnitOfWork, member: enum.StrEnum) -> str:
    """Write `member` through the repository that stores it; return the table it landed in."""
    definition_id = _definition_id(uow)
    state = member if isinstance(member, InstanceState) else InstanceState.RUNNING
    uow.instances.add(_instance(definition_id, state=state))
    if isinstance(member, InstanceState):
        return "SELECT state FROM instances"
    if isinstance(member, TaskState):
        uow.tasks.add(
            UserTaskRow(
                id="t-1",
                instance_id="i-1",
                element_id="review",
                name="Review",
                state=member,
                assignee=None,
                candidate_groups=(),
                candidate_users=(),
                form_key=None,
                form_fields=[],
                documentation="",
                due=None,
                priority=50,
                created_at=T0,
            )
        )
        return "SELECT state FROM user_tasks"
    if isinstance(member, JobState):
        uow.jobs.add(
            JobRow(
                id="j-1",
                instance_id="i-1",
                element_id="wait",
                task_ref="ref",
                type="timer",
                due_at=T0,
                state=member,
                attempts=0,
                retries_left=3,
                created_at=T0,
            )
        )
        return "SELECT state FROM jobs"
    assert isinstance(member, SubscriptionKind)
    uow.subscriptions.add(
        SubscriptionRow(
            id="s-1",
            instance_id="i-1",
            definition_id=None,
            kind=member,
            name="feedback",
            element_id="catch",
            task_ref="ref",
            business_key="SO-1",
            created_at=T0,
        )
    )
    return "SELECT kind FROM subscriptions"


ALL_MEMBERS = [
    pytest.param(member, id=f"{type(member).__name__}.{member.name}")
    for enum_class in (InstanceState, TaskState, JobState, SubscriptionKind)
    for member in enum_class
]


@pytest.mark.parametrize("member", ALL_MEMBERS)
def test_enum_values__are_what_the_database_stores(db_url, store, member):
    with store.unit_of_work() as uow:
        query = _store_enum(uow, member)

    assert _raw(db_url, query) == [(member.value,)]
    with store.unit_of_work() as uow:
        read = {
            InstanceState: lambda: uow.instances.get("i-1").state,
            TaskState: lambda: uow.tasks.get("t-1").state,
            JobState: lambda: uow.jobs.get("j-1").state,
            SubscriptionKind: lambda: uow.subscriptions.list()[0].kind,
        }[type(member)]()
    assert read == member
    assert type(member)(read) is member


def test_enum_values__are_lowercase_words():
    for enum_class in (InstanceState, TaskState, JobState, SubscriptionKind):
        for member in enum_class:
            assert member.value == member.name.lower()


def test_datetimes__round_trip_as_aware_utc(store):
    started = datetime(2025, 3, 1, 10, 30, 15, 123456, tzinfo=CET)  # 09:30:15 UTC
    with store.unit_of_work() as uow:
        uow.instances.add(_instance(_definition_id(uow), started_at=started, ended_at=None))

    with store.unit_of_work() as uow:
        row = uow.instances.get("i-1")

    assert row.started_at == started
    assert row.started_at.tzinfo is UTC
    assert row.started_at.hour == 9
    assert row.started_at.microsecond == 123456
    assert row.ended_at is None


def test_datetimes__compare_in_utc_across_offsets(store):
    """Ordering by a datetime column follows the instants, not the wall clocks."""
    with store.unit_of_work() as uow:
        definition_id = _definition_id(uow)
        # "a" is 09:00 UTC, written as 10:00+01:00; "b" is 09:30 UTC. As wall-clock text
        # "b" would sort first.
        uow.instances.add(
            _instance(definition_id, id="b", started_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
        )
        uow.instances.add(
            _instance(definition_id, id="a", started_at=datetime(2025, 3, 1, 10, tzinfo=CET))
        )

    with store.unit_of_work() as uow:
        assert [row.id for row in uow.instances.list()] == ["a", "b"]


def test_datetimes__naive_is_rejected_with_value_error(store):
    with pytest.raises(ValueError, match="naive datetime"), store.unit_of_work() as uow:
        uow.instances.add(_instance(_definition_id(uow), started_at=datetime(2025, 3, 1, 9)))

    with store.unit_of_work() as uow:
        assert uow.definitions.list() == []


def test_json__round_trips_nested_documents(store):
    variables = {
        "amount": 120000,
        "rate": 0.25,
        "approved": True,
        "note": None,
        "customer": {"name": "Zoë Åström", "tags": ["vip", "eu"]},
        "lines": [{"sku": "A-1", "qty": 2}],
    }
    with store.unit_of_work() as uow:
        uow.instances.add(_instance(_definition_id(uow), variables=variables))

    with store.unit_of_work() as uow:
        assert uow.instances.get("i-1").variables == variables


def test_json__value_that_is_not_json_raises_type_error(store):
    with pytest.raises(TypeError), store.unit_of_work() as uow:
        uow.instances.add(_instance(_definition_id(uow), variables={"when": object()}))


def test_metadata__names_every_constraint_and_index_by_convention():
    for table in models.Base.metadata.tables.values():
        assert table.primary_key.name == f"pk_{table.name}"
        for index in table.indexes:
            columns = "_".join(column.name for column in index.columns)
            assert index.name == f"ix_{table.name}_{columns}"
        for fk in table.foreign_key_constraints:
            assert fk.name == f"fk_{table.name}_{fk.column_keys[0]}_{fk.referred_table.name}"


def test_utc_datetime__rejects_naive_values_directly():
    column_type = models.UTCDateTime()
    dialect = create_engine("sqlite://").dialect
    with pytest.raises(ValueError):
        column_type.process_bind_param(datetime(2025, 1, 1), dialect)
    stored = column_type.process_bind_param(datetime(2025, 1, 1, 1, tzinfo=CET), dialect)
    assert stored == datetime(2025, 1, 1, 0, 0)
    assert column_type.process_result_value(stored, dialect) == datetime(2025, 1, 1, tzinfo=UTC)


def test_utc_datetime__on_sqlite_binds_sqlites_own_datetime_text_in_utc():
    """SQLite compares the stored texts: they must be its DATETIME format, in UTC."""
    dialect = create_engine("sqlite://").dialect
    bind = models.UTCDateTime().bind_processor(dialect)
    assert bind is not None
    assert bind(datetime(2025, 1, 1, 1, tzinfo=CET)) == "2025-01-01 00:00:00.000000"
    assert bind(datetime(999, 2, 3, 4, 5, 6, 7, tzinfo=UTC)) == "0999-02-03 04:05:06.000007"
    assert bind(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        bind(datetime(2025, 1, 1))


def test_store__in_memory_sqlite_is_shared_across_units_of_work():
    store = Store("sqlite://")
    try:
        with store.unit_of_work() as uow:
            _definition_id(uow)
        with store.unit_of_work() as uow:
            assert [d.key for d in uow.definitions.list()] == ["order_review"]
    finally:
        store.dispose()
