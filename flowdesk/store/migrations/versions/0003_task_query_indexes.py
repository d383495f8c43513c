"""Task-query indexes that lead with each filter's own column, none with `state`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

`user_tasks` had `(state, assignee)`, `(assignee)` and `(instance_id)`. SQLite has no planner
statistics unless someone runs ANALYZE, and then takes `state = 'open'` for a selective seek:
`tasks(instance_id=...)`, `tasks(business_key=...)` and `tasks(candidate_group=...)` read
every open task in the database. Now `(instance_id, state)` and `(assignee, state)` serve the
filters, and a partial index of the open tasks, oldest first, serves the unfiltered list and
its pages. Only indexes change: no table is copied, no row is touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state = 'open'"


def upgrade() -> None:
    # New indexes first: the foreign key on instance_id is never without one.
    op.create_index(op.f("ix_user_tasks_instance_id_state"), "user_tasks", ["instance_id", "state"])
    op.create_index(op.f("ix_user_tasks_assignee_state"), "user_tasks", ["assignee", "state"])
    op.create_index(
        op.f("ix_user_tasks_created_at_id"),
        "user_tasks",
        ["created_at", "id"],
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.drop_index(op.f("ix_user_tasks_state_assignee"), table_name="user_tasks")
    op.drop_index(op.f("ix_user_tasks_assignee"), table_name="user_tasks")
    op.drop_index(op.f("ix_user_tasks_instance_id"), table_name="user_tasks")


def downgrade() -> None:
    op.create_index(op.f("ix_user_tasks_instance_id"), "user_tasks", ["instance_id"])
    op.create_index(op.f("ix_user_tasks_assignee"), "user_tasks", ["assignee"])
    op.create_index(op.f("ix_user_tasks_state_assignee"), "user_tasks", ["state", "assignee"])
    op.drop_index(op.f("ix_user_tasks_created_at_id"), table_name="user_tasks")
    op.drop_index(op.f("ix_user_tasks_assignee_state"), table_name="user_tasks")
    op.drop_index(op.f("ix_user_tasks_instance_id_state"), table_name="user_tasks")
