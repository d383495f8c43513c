"""Fixtures for driving flowdesk through its public API only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import flowdesk

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parents[2] / "examples"
GROUPS = {"alice": ["sales"], "bob": ["leadership"], "carol": ["finance"], "dave": ["sales"]}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_engine(db_url: str, clock: Clock) -> Iterator[Callable[..., flowdesk.Engine]]:
    """Builds engines on the test's database; each one is closed at the end."""
    engines: list[flowdesk.Engine] = []

    def make(**kwargs: object) -> flowdesk.Engine:
        kwargs.setdefault("groups", GROUPS)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("load_entry_points", False)
        engine = flowdesk.Engine(db_url, **kwargs)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., flowdesk.Engine]) -> flowdesk.Engine:
    return make_engine()


@pytest.fixture
def expense(engine: flowdesk.Engine) -> flowdesk.Engine:
    """An engine with the example expense process deployed."""
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    return engine


@pytest.fixture
def started_instance(expense: flowdesk.Engine) -> flowdesk.ProcessInstance:
    return expense.start("expense_approval", business_key="EXP-1", user="alice")


def submit(engine: flowdesk.Engine, instance_id: str, amount: int) -> None:
    """Complete the submit step of an expense as its initiator, alice."""
    (task,) = engine.tasks(instance_id=instance_id)
    engine.complete(
        task.id,
        {"amount": amount, "category": "travel", "description": "Trip to Shanghai"},
        user="alice",
    )


def only_task(engine: flowdesk.Engine, instance_id: str) -> flowdesk.Task:
    (task,) = engine.tasks(instance_id=instance_id)
    return task
