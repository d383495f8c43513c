"""`engine.tasks(...)`: each filter's results, paging, and the indexes each filter reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import DATA, EXAMPLES, Clock
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine as SqlEngine

import flowdesk

# (business key, team, helper, owner): each instance opens Triage (for the team), Advise (for
# the helper) and Sign (held by the owner), all three at the same moment.
ORDERS = (
    ("ORD-1", "sales", "carol", "bob"),
    ("ORD-2", "finance", "alice", "dave"),
    ("ORD-3", "sales", "dave", "alice"),
    ("ORD-4", "leadership", "bob", "carol"),
)


@dataclass(frozen=True)
class Desk:
    """An engine with the order desk and one expense running; instances by business key."""

    engine: flowdesk.Engine
    ids: dict[str, str]
    expense_id: str


@pytest.fixture
def desk(engine: flowdesk.Engine, clock: Clock) -> Desk:
    engine.deploy(DATA / "task_queries.bpmn")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    ids = {}
    for business_key, team, helper, owner in ORDERS:
        clock.advance(minutes=1)
        variables = {"team": team, "helper": helper, "owner": owner, "order": business_key}
        ids[business_key] = engine.start("order_desk", variables, business_key=business_key).id
    clock.advance(minutes=1)
    expense = engine.start("expense_approval", business_key="EXP-1", user="alice")
    return Desk(engine, ids, expense.id)


def _names(tasks: list[flowdesk.Task]) -> list[tuple[str | None, str]]:
    return [(t.business_key, t.element_id) for t in tasks]


def test_tasks__by_candidate_group__lists_the_groups_open_tasks_oldest_first(desk: Desk) -> None:
    assert _names(desk.engine.tasks(candidate_group="sales")) == [
        ("ORD-1", "Task_triage"),
        ("ORD-3", "Task_triage"),
    ]
    assert desk.engine.tasks(candidate_group="nobody") == []


def test_tasks__by_candidate_user__lists_tasks_offered_by_name_or_through_a_group(
    desk: Desk,
) -> None:
    # alice is in "sales": ORD-1's and ORD-3's triage by group, ORD-2's advice by name.
    assert _names(desk.engine.tasks(candidate_user="alice")) == [
        ("ORD-1", "Task_triage"),
        ("ORD-2", "Task_advise"),
        ("ORD-3", "Task_triage"),
    ]
    # carol is in "finance" and named on ORD-1's advice.
    assert _names(desk.engine.tasks(candidate_user="carol")) == [
        ("ORD-1", "Task_advise"),
        ("ORD-2", "Task_triage"),
    ]


def test_tasks__by_assignee__lists_the_tasks_the_user_holds(desk: Desk) -> None:
    assert _names(desk.engine.tasks(assignee="alice")) == [
        ("ORD-3", "Task_sign"),
        ("EXP-1", "Task_submit"),
    ]


def test_tasks__by_instance_id__lists_that_instances_tasks_in_a_stable_order(desk: Desk) -> None:
    tasks = desk.engine.tasks(instance_id=desk.ids["ORD-2"])

    assert sorted(t.element_id for t in tasks) == ["Task_advise", "Task_sign", "Task_triage"]
    # Created at the same moment: ordered by id, the same on every call.
    assert [t.id for t in tasks] == sorted(t.id for t in tasks)
    assert desk.engine.tasks(instance_id=desk.ids["ORD-2"]) == tasks


def test_tasks__by_business_key_and_key__lists_the_matching_instances_tasks(desk: Desk) -> None:
    assert {t.instance_id for t in desk.engine.tasks(business_key="ORD-4")} == {desk.ids["ORD-4"]}
    assert len(desk.engine.tasks(business_key="ORD-4")) == 3
    assert _names(desk.engine.tasks(key="expense_approval")) == [("EXP-1", "Task_submit")]
    assert len(desk.engine.tasks(key="order_desk")) == 3 * len(ORDERS)
    assert _names(desk.engine.tasks(key="order_desk", candidate_group="leadership")) == [
        ("ORD-4", "Task_triage")
    ]


def test_tasks__render_each_tasks_documentation_with_its_own_instances_variables(
    desk: Desk,
) -> None:
    tasks = desk.engine.tasks(key="order_desk")

    assert {(t.business_key, t.documentation.split()[-1]) for t in tasks} == {
        (bk, bk) for bk, *_ in ORDERS
    }


def test_tasks__state_filter__completed_tasks_leave_the_open_list(desk: Desk) -> None:
    (sign,) = desk.engine.tasks(instance_id=desk.ids["ORD-1"], assignee="bob")
    desk.engine.complete(sign.id, user="bob")

    assert [t.element_id for t in desk.engine.tasks(instance_id=desk.ids["ORD-1"])] == sorted(
        ["Task_triage", "Task_advise"], key=lambda e: _id_of(desk, "ORD-1", e)
    )
    (done,) = desk.engine.tasks(assignee="bob", state="completed")
    assert (done.id, done.completed_by) == (sign.id, "bob")
    assert len(desk.engine.tasks(instance_id=desk.ids["ORD-1"], state=None)) == 3


def _id_of(desk: Desk, business_key: str, element_id: str) -> str:
    tasks = desk.engine.tasks(business_key=business_key, state=None)
    return next(t.id for t in tasks if t.element_id == element_id)


def test_tasks__limit_and_offset__page_through_every_task_once_in_order(desk: Desk) -> None:
    everything = desk.engine.tasks()
    assert len(everything) == 3 * len(ORDERS) + 1
    assert [(t.created_at, t.id) for t in everything] == sorted(
        (t.created_at, t.id) for t in everything
    )

    pages = [desk.engine.tasks(limit=5, offset=first) for first in range(0, len(everything), 5)]

    assert [len(page) for page in pages] == [5, 5, 3]
    assert [t.id for page in pages for t in page] == [t.id for t in everything]


def test_tasks__limit_and_offset__apply_after_the_filters(desk: Desk) -> None:
    group = desk.engine.tasks(key="order_desk")

    assert desk.engine.tasks(key="order_desk", limit=4, offset=2) == group[2:6]
    assert (
        desk.engine.tasks(candidate_user="alice", limit=2)
        == desk.engine.tasks(candidate_user="alice")[:2]
    )
    assert _names(desk.engine.tasks(candidate_group="sales", offset=1)) == [
        ("ORD-3", "Task_triage")
    ]
    assert desk.engine.tasks(limit=0) == []
    assert desk.engine.tasks(offset=100) == []


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (None, -1)])
def test_tasks__negative_limit_or_offset__raises_value_error(
    desk: Desk, limit: int | None, offset: int
) -> None:
    with pytest.raises(ValueError, match="negative"):
        desk.engine.tasks(limit=limit, offset=offset)


# -- plans ------------------------------------------------------------------------------------

# The index each filter must seek first (see `flowdesk/store/models.py` and migration 0003).
INDEX_OF_FILTER = {
    "candidate_group": "ix_task_candidates_kind_value_task_id",
    "candidate_user": "ix_task_candidates_kind_value_task_id",
    "assignee": "ix_user_tasks_assignee_state",
    "instance_id": "ix_user_tasks_instance_id_state",
    "business_key": "ix_instances_business_key",
}


@dataclass
class _Captured:
    statements: list[tuple[str, Any]]


@pytest.fixture
def captured_sql() -> Iterator[_Captured]:
    captured = _Captured([])

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        captured.statements.append((statement, params))

    event.listen(SqlEngine, "before_cursor_execute", before)
    try:
        yield captured
    finally:
        event.remove(SqlEngine, "before_cursor_execute", before)


def _task_select(captured: _Captured) -> tuple[str, Any]:
    (found,) = [
        (sql, params)
        for sql, params in captured.statements
        if sql.lstrip().startswith("SELECT") and "JOIN instances" in sql
    ]
    return found


def _sqlite_plan(db_url: str, sql: str, params: Any) -> list[str]:
    database = create_engine(db_url)
    try:
        with database.connect() as connection:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            return [str(row[3]) for row in rows]
    finally:
        database.dispose()


@pytest.mark.parametrize("name", sorted(INDEX_OF_FILTER))
def test_tasks__each_filter__seeks_its_own_index_and_never_reads_every_open_task(
    desk: Desk, db_url: str, captured_sql: _Captured, name: str
) -> None:
    # SQLite plans without statistics (flowdesk never runs ANALYZE), from the query and the
    # indexes alone, so a plan on a few rows is the plan on millions. PostgreSQL plans from
    # statistics and sizes: on a few rows it rightly prefers other paths, and its plans on
    # 100,000 instances are in docs/performance.md (`python -m benchmarks --only queries`).
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's plan depends on table sizes; see the query benchmark")
    value = {
        "candidate_group": "sales",
        "candidate_user": "alice",
        "assignee": "alice",
        "instance_id": desk.ids["ORD-2"],
        "business_key": "ORD-3",
    }[name]
    captured_sql.statements.clear()
    desk.engine.tasks(**{name: value})

    plan = _sqlite_plan(db_url, *_task_select(captured_sql))

    text = "\n".join(plan)
    assert INDEX_OF_FILTER[name] in text, text
    for step in plan:
        assert not step.startswith("SCAN "), text  # a whole table or index
        assert not step.endswith("(state=?)"), text  # every open task
