"""SQLAlchemy models of the flowdesk schema; only the store's repositories and migrations use them.

Datetimes are stored in UTC and come back timezone-aware on every backend (`UTCDateTime`).
JSON columns are JSONB on PostgreSQL and JSON text on SQLite. States are plain strings holding
the values of the enums in `records.py`; there are no CHECK constraints on them, so adding a
state later needs no migration (SQLite cannot alter a constraint without copying the table).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact); SQLAlchemy's JSON elsewhere (text in SQLite).
JSON_DOCUMENT: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")

# BIGSERIAL on PostgreSQL; SQLite autoincrements only a column declared exactly INTEGER.
BIG_ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

INSTANCE_ID = String(36)
SHORT = String(16)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, read back as an aware UTC datetime.

    PostgreSQL keeps the offset (`timestamptz`); SQLite keeps text without one, so values are
    converted to UTC before they are written and tagged UTC when read. Naive datetimes are
    rejected on write: the store cannot know which zone they meant.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # One call where the decorator's and SQLite's own processors make two: a step binds
        # about ten datetimes. The text is SQLite DATETIME's storage format.
        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not UTC:  # the engine's own times are UTC already
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ValueError(
                        f"naive datetime {value.isoformat()} given; use an aware datetime"
                    )
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every flowdesk table; its metadata names constraints by convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, str: String()}


class Definition(Base):
    """One deployed version of a BPMN process or DMN decision, with its XML."""

    __tablename__ = "definitions"
    __table_args__ = (
        UniqueConstraint("kind", "key", "version"),
        Index(None, "kind", "key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str]
    version: Mapped[int]
    name: Mapped[str]
    kind: Mapped[str] = mapped_column(SHORT)
    resource_name: Mapped[str]
    content_hash: Mapped[str]
    xml: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]


class Instance(Base):
    """One process instance; `workflow_state` is the engine's opaque serialized workflow."""

    __tablename__ = "instances"
    __table_args__ = (Index(None, "process_key", "state"),)

    id: Mapped[str] = mapped_column(INSTANCE_ID, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    process_key: Mapped[str]
    version: Mapped[int]
    business_key: Mapped[str | None] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(SHORT, index=True)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    workflow_state: Mapped[str | None] = mapped_column(Text)
    serializer_version: Mapped[str]
    lock_version: Mapped[int]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    incident: Mapped[str | None] = mapped_column(Text)
    parent_instance_id: Mapped[str | None] = mapped_column(INSTANCE_ID, index=True)
    parent_task_ref: Mapped[str | None]


class UserTask(Base):
    """One user task; its candidate groups and users are rows of `task_candidates`."""

    __tablename__ = "user_tasks"
    # Every filter of `tasks()` seeks an index that leads with its own selective column, and
    # no index leads with `state`: with one, SQLite's planner (which has no statistics unless
    # someone runs ANALYZE) guesses that `state = 'open'` finds about ten rows and reads every
    # open task in the database. The unfiltered list of open tasks, oldest first, reads a
    # partial index of the open ones only, in order, so a page of it stops early. Because
    # of it, a bound `state = ?` makes SQLite prepare the statement again at every run: the
    # statements write the state into their SQL (`user_task_statements._state_is`).
    __table_args__ = (
        Index(None, "instance_id", "state"),
        Index(None, "assignee", "state"),
        Index(
            None,
            "created_at",
            "id",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        INSTANCE_ID, ForeignKey("instances.id", ondelete="CASCADE")
    )
    element_id: Mapped[str]
    name: Mapped[str]
    state: Mapped[str] = mapped_column(SHORT)
    assignee: Mapped[str | None]
    form_key: Mapped[str | None]
    form_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DOCUMENT)
    documentation: Mapped[str] = mapped_column(Text)
    due: Mapped[datetime | None]
    priority: Mapped[int]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None]
    properties: Mapped[dict[str, str]] = mapped_column(JSON_DOCUMENT)

    candidates: Mapped[list[TaskCandidate]] = relationship(
        lazy="raise", order_by="(TaskCandidate.kind, TaskCandidate.value)"
    )


class TaskCandidate(Base):
    """One candidate of a user task: `kind` is "group" or "user", `value` its name."""

    __tablename__ = "task_candidates"
    # Leads with (kind, value): "open tasks offered to group X" reads the index, not the table.
    __table_args__ = (Index(None, "kind", "value", "task_id"),)

    task_id: Mapped[str] = mapped_column(
        ForeignKey("user_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(SHORT, primary_key=True)
    value: Mapped[str] = mapped_column(primary_key=True)


class HistoryEntry(Base):
    """One history event; it has no foreign key so that it may outlive its instance."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(INSTANCE_ID, index=True)
    type: Mapped[str]
    at: Mapped[datetime]
    element_id: Mapped[str | None]
    user: Mapped[str | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class Document(Base):
    """A document rendered for an instance (a quotation, an order notification...)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(
        INSTANCE_ID, ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[str | None]
    name: Mapped[str]
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Job(Base):
    """A timer or other deferred work; a worker leases it with `locked_by`/`lock_expires_at`."""

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "state", "due_at"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(
        INSTANCE_ID, ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[str]
    task_ref: Mapped[str]
    type: Mapped[str] = mapped_column(SHORT)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(SHORT)
    attempts: Mapped[int]
    retries_left: Mapped[int]
    created_at: Mapped[datetime]
    locked_by: Mapped[str | None]
    lock_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("definitions.id", ondelete="CASCADE")
    )


class ExternalTask(Base):
    """A service-like activity waiting for an external worker to fetch, lock and complete it.

    Camunda 7's `ACT_RU_EXT_TASK`: a worker locks it with `worker_id`/`lock_expires_at`;
    `retries` is None until a failure sets it, and 0 means an incident.
    """

    __tablename__ = "external_tasks"
    __table_args__ = (Index(None, "topic", "lock_expires_at"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        INSTANCE_ID, ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id", ondelete="CASCADE"))
    process_key: Mapped[str]
    business_key: Mapped[str | None]
    element_id: Mapped[str]
    task_ref: Mapped[str]
    topic: Mapped[str]
    priority: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    worker_id: Mapped[str | None]
    lock_expires_at: Mapped[datetime | None]
    retries: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class Subscription(Base):
    """A waiting message or signal catch; with no instance, a start event of a definition."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "kind", "name"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(
        INSTANCE_ID, ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("definitions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(SHORT)
    name: Mapped[str]
    element_id: Mapped[str]
    task_ref: Mapped[str | None]
    business_key: Mapped[str | None]
    created_at: Mapped[datetime]
