"""External tasks: activities that wait for an external worker to fetch, lock and complete them.

Revision ID: 0005_external_tasks
Revises: 0004
Create Date: 2026-12-07

Camunda 7's `ACT_RU_EXT_TASK`: a service task, send task, business rule task or message throw
event with `camunda:type="external"` waits here, by topic, until a worker locks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Spelled out rather than imported from `models` (see 0001): `models.UTCDateTime` stores a
# `DateTime(timezone=True)`, `_JSON` is JSONB on PostgreSQL.
_DATETIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0005_external_tasks"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=True),
        sa.Column("element_id", sa.String(), nullable=False),
        sa.Column("task_ref", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("worker_id", sa.String(), nullable=True),
        sa.Column("lock_expires_at", _DATETIME, nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("properties", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["definitions.id"],
            name=op.f("fk_external_tasks_definition_id_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_external_tasks_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tasks")),
    )
    op.create_index(
        op.f("ix_external_tasks_instance_id"), "external_tasks", ["instance_id"], unique=False
    )
    op.create_index(
        op.f("ix_external_tasks_topic_lock_expires_at"),
        "external_tasks",
        ["topic", "lock_expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_external_tasks_topic_lock_expires_at"), table_name="external_tasks")
    op.drop_index(op.f("ix_external_tasks_instance_id"), table_name="external_tasks")
    op.drop_table("external_tasks")
