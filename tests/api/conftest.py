"""Fixtures for driving flowdesk through its public API only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

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


# -- restart equivalence ------------------------------------------------------------------------
#
# Every behaviour must be the same whether or not the Engine (or the whole process) was
# restarted between two calls: state goes through the store and the serializer, never through
# what one Engine keeps in memory (its parsed specs above all, which SpiffWorkflow changes at
# run time). The behaviour tests of the modules below therefore run twice: once as written
# ("same": one Engine per `make_engine()`), and once ("restarted") with an Engine that is
# closed after every call and built afresh, on the same database, clock, groups and handler
# registry, for the next one. The two runs must agree.
#
# The modules are the ones whose behaviour lives in workflow state between calls: events,
# event sub-processes, errors and escalations, compensation, messages, receive tasks, timers,
# external tasks, call activities, multi-instance, async continuations, incidents, service
# tasks, listeners, implicit ends, and expressions and scripts (JUEL, JavaScript, FEEL) read
# again from the stored model. A test module needs no restart fixture of its own:
# `make_engine` and `engine` give the restarting Engine in the "restarted" run. Left out:
# modules about the store, queries and reports (nothing of the workflow state), the job
# executor, concurrency and race tests (their threads share one Engine on purpose), and the
# long-running loops of
# test_long_running (each of their hundreds of calls would parse the model again;
# test_persistence and the modules here cover reloading). Doubling these modules adds about a
# minute per database.
RESTART_MODULES = frozenset(
    {
        "test_async_continuations",
        "test_call_activities",
        "test_call_events",
        "test_call_resolution",
        "test_compensation",
        "test_errors_and_escalations",
        "test_event_subprocesses",
        "test_events",
        "test_external_tasks",
        "test_feel_scripts",
        "test_implicit_ends",
        "test_incidents",
        "test_javascript",
        "test_juel_semantics",
        "test_listeners",
        "test_messages_and_jobs",
        "test_model_fidelity",
        "test_multi_instance",
        "test_nested_event_subprocesses",
        "test_instance_admin",
        "test_receive_task_trigger",
        "test_service_tasks",
        "test_timers",
    }
)
ENGINE_MODES = ("same", "restarted")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_mode" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rpartition(".")[2]
    modes = ENGINE_MODES if module in RESTART_MODULES else ENGINE_MODES[:1]
    metafunc.parametrize("engine_mode", modes)


class RestartingEngine:
    """Stands for a `flowdesk.Engine`, but each method call goes to a newly built one.

    The Engine of the previous call is closed first, so nothing it kept in memory can carry
    over. Attributes that are no methods (`handlers`, `url`) come from the current Engine; the
    handler registry is one object for all of them, as an application would register its
    handlers again at each start.
    """

    def __init__(self, build: Callable[[], flowdesk.Engine]) -> None:
        self._build = build
        self._current = build()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._current, name)
        if name.startswith("_") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._current.close()
            self._current = self._build()
            return getattr(self._current, name)(*args, **kwargs)

        return call

    def close(self) -> None:
        self._current.close()


@pytest.fixture
def make_engine(
    db_url: str, clock: Clock, engine_mode: str
) -> Iterator[Callable[..., flowdesk.Engine]]:
    """Builds engines on the test's database; each one is closed at the end.

    In the "restarted" mode (see `RESTART_MODULES`) each engine it returns is a
    `RestartingEngine`: a new Engine for every call.
    """
    engines: list[flowdesk.Engine | RestartingEngine] = []

    def make(**kwargs: Any) -> flowdesk.Engine:
        kwargs.setdefault("groups", GROUPS)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("load_entry_points", False)
        if engine_mode == "same":
            engine = flowdesk.Engine(db_url, **kwargs)
            engines.append(engine)
            return engine
        kwargs.setdefault("handlers", flowdesk.HandlerRegistry())
        restarting = RestartingEngine(lambda: flowdesk.Engine(db_url, **kwargs))
        engines.append(restarting)
        return cast(flowdesk.Engine, restarting)

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


def open_tasks(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    """The element ids of the instance's open user tasks, sorted."""
    return sorted(t.element_id for t in engine.tasks(instance_id=instance_id))


def complete(
    engine: flowdesk.Engine,
    instance_id: str,
    element_id: str,
    data: dict[str, object] | None = None,
) -> flowdesk.ProcessInstance:
    """Complete the instance's one open task at `element_id`."""
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    return engine.complete(task.id, data or {})


def assert_refused_once(
    engine: flowdesk.Engine, text: str, folder: Path, element_id: str | None, reason: str
) -> None:
    """Deploying `text` as `m.bpmn` raises one problem saying `reason`, naming `element_id`,
    the file and a line, and stores nothing."""
    (folder / "m.bpmn").write_text(text)

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(folder / "m.bpmn")

    problems = [p for p in caught.value.problems if reason in p.message]
    assert len(problems) == 1, caught.value.problems
    assert problems[0].element_id == element_id
    assert problems[0].line is not None and problems[0].file.endswith("m.bpmn")
    assert engine.definitions() == []
