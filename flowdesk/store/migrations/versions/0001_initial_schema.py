"""Initial schema: definitions, instances, user tasks, history, jobs and subscriptions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Released: never edit it; change the schema with a new revision. The types are spelled out here
rather than imported from `models`, so that later changes to the models cannot change what
this revision creates. `models.UTCDateTime` stores a `DateTime(timezone=True)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INSTANCE_ID = sa.String(length=36)
_SHORT = sa.String(length=16)


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", _SHORT, nullable=False),
        sa.Column("resource_name", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("deployed_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definitions")),
        sa.UniqueConstraint("kind", "key", "version", name=op.f("uq_definitions_kind_key_version")),
    )
    op.create_index(
        op.f("ix_definitions_kind_key_content_hash"),
        "definitions",
        ["kind", "key", "content_hash"],
    )

    op.create_table(
        "instances",
        sa.Column("id", _INSTANCE_ID, nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=True),
        sa.Column("state", _SHORT, nullable=False),
        sa.Column("variables", _JSON, nullable=False),
        sa.Column("workflow_state", sa.Text(), nullable=True),
        sa.Column("serializer_version", sa.String(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("started_at", _when(), nullable=False),
        sa.Column("ended_at", _when(), nullable=True),
        sa.Column("incident", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["definitions.id"],
            name=op.f("fk_instances_definition_id_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    op.create_index(op.f("ix_instances_business_key"), "instances", ["business_key"])
    op.create_index(op.f("ix_instances_process_key_state"), "instances", ["process_key", "state"])
    op.create_index(op.f("ix_instances_state"), "instances", ["state"])

    op.create_table(
        "user_tasks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("instance_id", _INSTANCE_ID, nullable=False),
        sa.Column("element_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state", _SHORT, nullable=False),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("form_key", sa.String(), nullable=True),
        sa.Column("form_fields", _JSON, nullable=False),
        sa.Column("documentation", sa.Text(), nullable=False),
        sa.Column("due", _when(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("claimed_at", _when(), nullable=True),
        sa.Column("completed_at", _when(), nullable=True),
        sa.Column("completed_by", sa.String(), nullable=True),
        sa.Column("properties", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_user_tasks_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_tasks")),
    )
    op.create_index(op.f("ix_user_tasks_assignee"), "user_tasks", ["assignee"])
    op.create_index(op.f("ix_user_tasks_instance_id"), "user_tasks", ["instance_id"])
    op.create_index(op.f("ix_user_tasks_state_assignee"), "user_tasks", ["state", "assignee"])

    op.create_table(
        "task_candidates",
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("kind", _SHORT, nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["user_tasks.id"],
            name=op.f("fk_task_candidates_task_id_user_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "kind", "value", name=op.f("pk_task_candidates")),
    )
    op.create_index(
        op.f("ix_task_candidates_kind_value_task_id"),
        "task_candidates",
        ["kind", "value", "task_id"],
    )

    op.create_table(
        "history",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", _INSTANCE_ID, nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("element_id", sa.String(), nullable=True),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index(op.f("ix_history_instance_id"), "history", ["instance_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("instance_id", _INSTANCE_ID, nullable=False),
        sa.Column("element_id", sa.String(), nullable=False),
        sa.Column("task_ref", sa.String(), nullable=False),
        sa.Column("type", _SHORT, nullable=False),
        sa.Column("due_at", _when(), nullable=False),
        sa.Column("state", _SHORT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retries_left", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("locked_by", sa.String(), nullable=True),
        sa.Column("lock_expires_at", _when(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("payload", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_jobs_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_instance_id"), "jobs", ["instance_id"])
    op.create_index(op.f("ix_jobs_state_due_at"), "jobs", ["state", "due_at"])

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("instance_id", _INSTANCE_ID, nullable=True),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("kind", _SHORT, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("element_id", sa.String(), nullable=False),
        sa.Column("task_ref", sa.String(), nullable=True),
        sa.Column("business_key", sa.String(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["definitions.id"],
            name=op.f("fk_subscriptions_definition_id_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_subscriptions_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_instance_id"), "subscriptions", ["instance_id"])
    op.create_index(op.f("ix_subscriptions_kind_name"), "subscriptions", ["kind", "name"])


def downgrade() -> None:
    # Dropping a table drops its indexes.
    for table in (
        "subscriptions",
        "jobs",
        "history",
        "task_candidates",
        "user_tasks",
        "instances",
        "definitions",
    ):
        op.drop_table(table)
