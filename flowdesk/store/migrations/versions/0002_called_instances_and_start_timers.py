"""Called instances and timer start events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

A call activity starts an instance of its own (as in Camunda), which records the instance and
the task that called it. A timer start event is a job of its definition rather than of an
instance, so `jobs.instance_id` becomes optional and `jobs.definition_id` names the definition.
SQLite cannot alter a column in place; `batch_alter_table` copies the table there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSTANCE_ID = sa.String(length=36)


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("parent_instance_id", _INSTANCE_ID, nullable=True))
        batch.add_column(sa.Column("parent_task_ref", sa.String(), nullable=True))
        batch.create_index(op.f("ix_instances_parent_instance_id"), ["parent_instance_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("instance_id", existing_type=_INSTANCE_ID, nullable=True)
        batch.add_column(sa.Column("definition_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_jobs_definition_id_definitions"),
            "definitions",
            ["definition_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE instance_id IS NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("fk_jobs_definition_id_definitions"), type_="foreignkey")
        batch.drop_column("definition_id")
        batch.alter_column("instance_id", existing_type=_INSTANCE_ID, nullable=False)
    with op.batch_alter_table("instances") as batch:
        batch.drop_index(op.f("ix_instances_parent_instance_id"))
        batch.drop_column("parent_task_ref")
        batch.drop_column("parent_instance_id")
