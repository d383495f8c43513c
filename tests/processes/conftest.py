"""Fixtures for the shipped processes: an engine with their handlers, the staff and a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import flowdesk
import flowdesk.processes
from flowdesk.processes.roles import STAFF

BPMN = Path(__file__).parents[2] / "bpmn"


class Clock:
    """A clock the test moves by hand; it starts on a Monday morning."""

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
def new_engine(db_url: str, clock: Clock) -> Iterator[Callable[[], flowdesk.Engine]]:
    """Builds engines on the test's database, as a restarted application would: each with the
    shipped processes' handlers, the staff and the test clock; all closed at the end."""
    engines: list[flowdesk.Engine] = []

    def build() -> flowdesk.Engine:
        registry = flowdesk.HandlerRegistry()
        flowdesk.processes.register(registry)
        engines.append(
            flowdesk.Engine(
                db_url, groups=STAFF, clock=clock, handlers=registry, load_entry_points=False
            )
        )
        return engines[-1]

    yield build
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(new_engine: Callable[[], flowdesk.Engine]) -> flowdesk.Engine:
    """An engine on a fresh database with every shipped process's handlers and the staff."""
    return new_engine()


def do(engine: flowdesk.Engine, instance_id: str, element_id: str, user: str, data: Any) -> None:
    """Claim and complete, as `user`, the open task `element_id` of the instance; the instance
    must not be in an incident afterwards."""
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.claim(task.id, user=user)
    engine.complete(task.id, data, user=user)
    assert engine.instance(instance_id).state != "incident", engine.instance(instance_id).incident
