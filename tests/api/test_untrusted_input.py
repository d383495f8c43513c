"""Property-based tests: whatever a caller passes, only `FlowdeskError` leaves the public API.

Hypothesis drives the public API with generated variable payloads, generated sequences of
calls on the shipped and example models, and mutated BPMN and DMN bytes. After every call it
checks the invariants of docs/limits.md:

- an error is a `FlowdeskError` (anything else fails the test, with the shrunk example);
- a refused call changed nothing: instances, tasks, jobs and history read the same before and
  after it;
- open tasks, jobs and history agree: an open task belongs to a running instance (or one with
  an incident) and was announced by a `task_created` event; an ended instance has no open
  task and no job;
- nothing is lost: every instance once started can still be read.

Budget: the profile "ci" (the default) runs a fixed seed (`derandomize=True`) and few
examples, under a minute per database; `FLOWDESK_HYPOTHESIS=long` runs many more examples
with a fresh seed each run (see docs/limits.md).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import string
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowdesk
from tests.api.conftest import DATA, EXAMPLES

SHIPPED = Path(__file__).parents[2] / "bpmn"
MODELS = [
    EXAMPLES / "expense_approval.bpmn",
    DATA / "variable_types.bpmn",
    DATA / "counting_loop.bpmn",
    DATA / "events_messages.bpmn",
    DATA / "events_signals.bpmn",
    DATA / "timer_deadline.bpmn",
    DATA / "timer_parallel.bpmn",
]
MUTATED_SOURCES = [
    EXAMPLES / "expense_approval.bpmn",
    SHIPPED / "order_review.bpmn",
    SHIPPED / "order_routing.dmn",
    DATA / "events_messages.bpmn",
    DATA / "decisions_hit_policies.dmn",
]

_LONG = os.environ.get("FLOWDESK_HYPOTHESIS") == "long"
_COMMON: dict[str, Any] = {
    "deadline": None,
    # One engine and database per test, shared by its examples: the invariants are about the
    # whole database, and a fresh database per example would cost most of the budget.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": not _LONG,
    "database": None,
}


# The long run takes far longer than the suite's 120 s per test.
pytestmark = [pytest.mark.timeout(0)] if _LONG else []


def _budget(ci: int, long: int) -> settings:
    return settings(max_examples=long if _LONG else ci, **_COMMON)


# -- generated values -----------------------------------------------------------------------

_NAMES = st.sampled_from(
    ["amount", "customer", "due", "tags", "note", "x", "$flowdesk", "typename"]
)
_TEXT = st.text(max_size=12) | st.sampled_from(["", "a\x00b", "\ud800", '"quoted"', "${x}", "张伟"])
_GOOD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
    st.dates(),
    st.binary(max_size=8),
)
_BAD_SCALARS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 2**64, -(2**70), object(), {1, 2}]),
    st.datetimes(),  # naive
    st.timedeltas(),
    st.sampled_from(["a\x00b", "\ud800"]),
)
_SCALARS = _GOOD_SCALARS | _BAD_SCALARS


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.tuples(inner, inner)
            | st.dictionaries(_NAMES | _TEXT, inner, max_size=3)
            | st.dictionaries(st.integers(), inner, min_size=1, max_size=1)
        ),
        max_leaves=8,
    )


VALUES = _nested(_SCALARS)
GOOD_VALUES = st.recursive(
    _GOOD_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=8,
)


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


PAYLOADS = st.one_of(
    st.dictionaries(_NAMES | _TEXT, VALUES, max_size=4),
    st.dictionaries(_NAMES, GOOD_VALUES, max_size=4),
    st.builds(lambda d: {"deep": _deep(d)}, st.sampled_from([63, 64, 65, 500])),
    st.builds(lambda n: {"big": "x" * n}, st.sampled_from([10, 5 * 1024 * 1024])),
    st.just({1: "not a name"}),
    st.just(None),
)


# -- what the database holds, read through the public API -----------------------------------


def snapshot(engine: flowdesk.Engine) -> dict[str, Any]:
    """Everything a call could change, as comparable values."""
    instances = engine.instances()
    return {
        "definitions": [(d.key, d.version) for d in engine.definitions(all_versions=True)],
        "instances": [
            (i.id, i.state, i.incident, i.ended_at, _comparable(i.variables)) for i in instances
        ],
        "tasks": [(t.id, t.state, t.assignee) for t in engine.tasks(state=None)],
        "jobs": [(j.id, j.due_at, j.state, j.attempts) for j in engine.jobs()],
        "history": {i.id: len(engine.history(i.id)) for i in instances},
    }


def _comparable(value: Any) -> Any:
    # NaN a script computed is stored; NaN != NaN, so compare its text.
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def check_invariants(engine: flowdesk.Engine, started: set[str]) -> None:
    instances = {i.id: i for i in engine.instances()}
    assert started <= set(instances), "an instance that was started is gone"
    open_tasks = engine.tasks()
    for task in open_tasks:
        owner = instances[task.instance_id]
        assert owner.state in ("running", "incident"), (task, owner.state)
        events = engine.history(task.instance_id)
        assert any(e.type == "task_created" and e.data.get("task_id") == task.id for e in events), (
            task
        )
    for job in engine.jobs():
        if job.instance_id is not None:  # a start timer belongs to no instance
            assert instances[job.instance_id].state in ("running", "incident"), job
    for instance in instances.values():
        if instance.state in ("completed", "terminated"):
            assert engine.tasks(instance_id=instance.id) == []
            assert engine.jobs(instance_id=instance.id) == []
        assert engine.instance(instance.id).variables == instance.variables or _comparable(
            engine.instance(instance.id).variables
        ) == _comparable(instance.variables)


def call_checked(
    engine: flowdesk.Engine, call: Callable[[], Any], outcomes: Counter[str], label: str
) -> Any:
    """Run `call`; an error must be a `FlowdeskError` and must have changed nothing.

    `outcomes` counts, per `label`, the calls accepted and refused: each test checks that its
    examples reached both, so that neither path goes untested unnoticed.
    """
    before = snapshot(engine)
    try:
        result = call()
    except flowdesk.FlowdeskError:
        outcomes[f"{label} refused"] += 1
        assert snapshot(engine) == before, "a refused call changed stored state"
        return None
    outcomes[f"{label} accepted"] += 1
    return result


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def world(make_engine, clock):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = make_engine(load_entry_points=True)
        for model in MODELS:
            engine.deploy(model)
        engine.deploy(SHIPPED)
    return engine


# -- the properties ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore")
def test_generated_variables__are_stored_as_given_or_refused_with_a_typed_error(world) -> None:
    started: set[str] = set()
    outcomes: Counter[str] = Counter()

    @given(
        key=st.sampled_from(["expense_approval", "variable_types", "counting_loop"]),
        variables=PAYLOADS,
        business_key=st.none() | st.text(max_size=8).filter(lambda t: "\x00" not in t),
    )
    @_budget(ci=40, long=200)
    def run(key: str, variables: Any, business_key: str | None) -> None:
        instance = call_checked(
            world, lambda: world.start(key, variables, business_key=business_key), outcomes, "start"
        )
        if instance is not None:
            started.add(instance.id)
            stored = world.instance(instance.id).variables
            for name, value in (variables or {}).items():
                assert _same(stored[name], value), name
        # Queries keep working whatever was stored.
        call_checked(world, lambda: world.instances(variables={"amount": 1}), outcomes, "query")
        call_checked(world, lambda: world.instances(variables={"x": "a"}), outcomes, "query")
        check_invariants(world, started)

    run()
    assert outcomes["start accepted"] and outcomes["start refused"], outcomes
    assert not outcomes["query refused"], outcomes


def _same(stored: Any, given: Any) -> bool:
    """Whether a stored value is the given one, as `variable_types.accept` normalises it."""
    if isinstance(given, tuple | list):
        return (
            isinstance(stored, list)
            and len(stored) == len(given)
            and all(_same(s, g) for s, g in zip(stored, given, strict=True))
        )
    if isinstance(given, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == given.keys()
            and all(_same(stored[k], v) for k, v in given.items())
        )
    if isinstance(given, datetime):
        return (
            isinstance(stored, datetime)
            and stored == given
            and (stored.utcoffset() == given.utcoffset())
        )
    if isinstance(given, bytearray | memoryview):
        return stored == bytes(given)
    return type(stored) is type(given) and stored == given


ACTIONS = ["start", "complete", "claim", "correlate", "signal", "trigger", "jobs", "retry"]


@pytest.mark.filterwarnings("ignore")
def test_generated_call_sequences__keep_tasks_jobs_and_history_in_agreement(world, clock) -> None:
    started: set[str] = set()
    messages = _names(r'<bpmn:message [^>]*name="([^"]+)"')
    signals = _names(r'<bpmn:signal [^>]*name="([^"]+)"')
    keys = ["expense_approval", "variable_types", "counting_loop", "events_messages"]
    keys += [d.key for d in world.definitions() if d.key not in keys]
    outcomes: Counter[str] = Counter()

    @given(data=st.data())
    @_budget(ci=15, long=40)
    def run(data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(min_value=1, max_value=12), label="calls")):
            action = data.draw(st.sampled_from(ACTIONS), label="action")
            call = _action(world, clock, data, action, keys, messages, signals, started)
            result = call_checked(world, call, outcomes, action)
            if isinstance(result, flowdesk.ProcessInstance):
                started.add(result.id)
            check_invariants(world, started)

    run()
    for action in ("start", "complete"):
        assert outcomes[f"{action} accepted"] and outcomes[f"{action} refused"], outcomes


def _action(
    engine: flowdesk.Engine,
    clock: Any,
    data: st.DataObject,
    action: str,
    keys: list[str],
    messages: list[str],
    signals: list[str],
    started: set[str],
) -> Callable[[], Any]:
    """The call `action` names, with its arguments drawn.

    Every action draws the same values whatever the database holds (which task, which
    instance: an index into what exists), so that Hypothesis can replay an example.
    """
    variables = data.draw(PAYLOADS | st.dictionaries(_NAMES, GOOD_VALUES, max_size=3))
    user = data.draw(st.sampled_from([None, "alice", "bob", "carol", "dave", "mallory"]))
    pick = data.draw(st.integers(min_value=0, max_value=1000))
    choice = data.draw(st.integers(min_value=0, max_value=1000))
    fits_form = data.draw(st.booleans())
    business_key = data.draw(st.sampled_from([None, "EXP-1", "B-1"]))
    hours = data.draw(st.sampled_from([0, 1, 25, 24 * 8]))
    tasks = engine.tasks()
    instances = sorted(started)
    if action == "start":
        key = keys[choice % len(keys)]
        return lambda: engine.start(key, variables, business_key=business_key, user=user)
    if action == "claim" and tasks:
        task = tasks[pick % len(tasks)]
        return lambda: engine.claim(task.id, user=user or "alice")
    if action == "complete" and tasks:
        task = tasks[pick % len(tasks)]
        form = _form_data(random.Random(choice), task) if fits_form else variables
        return lambda: engine.complete(task.id, form, user=user)
    if action == "correlate":
        name = [*messages, "no such message"][choice % (len(messages) + 1)]
        return lambda: engine.correlate(name, business_key=business_key, variables=variables)
    if action == "signal":
        name = [*signals, "no such signal"][choice % (len(signals) + 1)]
        return lambda: engine.signal(name, variables)
    if action == "trigger" and instances:
        instance_id = instances[pick % len(instances)]
        element = ["Task_review", "Receive", "nothing"][choice % 3]
        return lambda: engine.trigger(instance_id, element, variables=variables)
    if action == "retry" and instances:
        instance_id = instances[pick % len(instances)]
        return lambda: engine.retry(instance_id)

    def run_jobs() -> int:
        clock.advance(hours=hours)
        return engine.run_due_jobs()

    return run_jobs


def _form_data(rng: random.Random, task: flowdesk.Task) -> dict[str, Any]:
    """Values that mostly fit the task's form, so that instances move on."""
    values: dict[str, Any] = {}
    for field in task.form_fields:
        if field.enum_values:
            values[field.id] = rng.choice(field.enum_values)
        elif field.type == "long":
            values[field.id] = rng.randint(-5, 5000)
        elif field.type == "boolean":
            values[field.id] = rng.random() < 0.5
        elif field.type == "date":
            values[field.id] = (date(2026, 1, 1) + timedelta(days=rng.randint(0, 400))).isoformat()
        else:
            values[field.id] = "".join(
                rng.choices(string.ascii_letters + " ", k=rng.randint(0, 20))
            )
    return values


def _names(pattern: str) -> list[str]:
    found: set[str] = set()
    for model in [*MODELS, *SHIPPED.glob("*.bpmn")]:
        found.update(re.findall(pattern, model.read_text(encoding="utf-8")))
    return sorted(found)


# -- mutated files ----------------------------------------------------------------------------

_ATTRIBUTE = re.compile(rb'="([^"]*)"')
_SPLICES = st.sampled_from(
    [b"", b"<", b">", b'"', b"${", b"}", b"&", b"\x00", b"\xff\xfe", b"<bpmn:task/>", b"]]>"]
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """One of the models with a few bytes, an attribute value or a line changed."""
    source = draw(st.sampled_from(MUTATED_SOURCES))
    content = source.read_bytes()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["splice", "attribute", "line", "truncate"]))
        if kind == "splice":
            at = draw(st.integers(min_value=0, max_value=len(content)))
            cut = draw(st.integers(min_value=0, max_value=40))
            content = content[:at] + draw(_SPLICES | st.binary(max_size=6)) + content[at + cut :]
        elif kind == "attribute":
            spans = [m.span(1) for m in _ATTRIBUTE.finditer(content)]
            if not spans:  # cut down to nothing with an attribute
                continue
            start, end = draw(st.sampled_from(spans))
            others = [content[a:b] for a, b in spans[:200]]
            new = draw(st.sampled_from(others) | _SPLICES | st.text(max_size=8).map(str.encode))
            content = content[:start] + new.replace(b'"', b"&quot;") + content[end:]
        elif kind == "line":
            lines = content.split(b"\n")
            del lines[draw(st.integers(min_value=0, max_value=len(lines) - 1))]
            content = b"\n".join(lines)
        else:
            content = content[: draw(st.integers(min_value=0, max_value=len(content)))]
    return source.name, content


@pytest.mark.filterwarnings("ignore")
def test_mutated_bpmn_and_dmn_files__deploy_or_are_refused_with_a_typed_error(make_engine) -> None:
    engine = make_engine()
    started: set[str] = set()
    folder = Path(tempfile.mkdtemp(prefix="flowdesk-mutated-"))
    outcomes: Counter[str] = Counter()

    @given(file=mutated())
    @_budget(ci=40, long=300)
    def run(file: tuple[str, bytes]) -> None:
        name, content = file
        path = folder / name
        path.write_bytes(content)
        deployed = call_checked(engine, lambda: engine.deploy(path), outcomes, "deploy")
        for key in sorted({d.key for d in deployed or []}):
            # What deploys must start, or refuse to start, with a typed error.
            instance = call_checked(
                engine, lambda key=key: engine.start(key, {"amount": 5}), outcomes, "start"
            )
            if instance is not None:
                started.add(instance.id)
        check_invariants(engine, started)

    run()
    assert outcomes["deploy accepted"] and outcomes["deploy refused"], outcomes


def _names_no_usable_database(url: str) -> bool:
    # An empty URL means the default, sqlite:///flowdesk.db in the working directory; a
    # usable one would create a database file or reach a server.
    return bool(url) and not url.strip().lower().startswith(("sqlite", "postgres"))


_URLS = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda scheme, rest: f"{scheme}://{rest}",
        st.sampled_from(
            ["foo", "mysql", "oracle", "sqlite+nodriver", "postgresql+asyncpg", "http"]
        ),
        st.text(alphabet=string.ascii_letters + "/:@.", max_size=12),
    ),
).filter(_names_no_usable_database)


def test_database_urls_flowdesk_cannot_use__are_store_errors() -> None:
    @given(url=_URLS)
    @_budget(ci=30, long=300)
    def run(url: str) -> None:
        with contextlib.suppress(flowdesk.StoreError):
            flowdesk.Engine(url, load_entry_points=False).close()

    run()


def test_the_named_escapes__are_typed_now(world) -> None:
    """The three escapes issue 13 names, as ordinary examples."""
    with pytest.raises(flowdesk.FlowdeskError):
        world.start("expense_approval", {"when": datetime(2026, 3, 2, 9, 0)})  # naive
    aware = world.start("expense_approval", {"when": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)})
    assert world.instance(aware.id).variables["when"] == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(flowdesk.LimitExceeded):
        world.start("expense_approval", {"deep": _deep(500)})
    with pytest.raises(flowdesk.StoreError):
        flowdesk.Engine("foo://bar", load_entry_points=False)
    assert world.start("expense_approval", {"day": date(2026, 3, 2)}).variables["day"] == date(
        2026, 3, 2
    )


def test_a_diagram_bound_that_is_no_number__is_a_validation_error(make_engine, tmp_path) -> None:
    """Found by the long run: SpiffWorkflow read `dc:Bounds x` as a float unchecked. Camunda 7
    refuses the diagram too, and deploy says so before Spiff reads it."""
    engine = make_engine()
    text = (EXAMPLES / "expense_approval.bpmn").read_text(encoding="utf-8")
    broken = tmp_path / "expense_approval.bpmn"
    broken.write_text(re.sub(r'(<dc:Bounds x=")[^"]*', r"\1left", text, count=1), encoding="utf-8")

    with pytest.raises(flowdesk.BpmnValidationError, match="x='left', not a number"):
        engine.deploy(broken)
    assert engine.definitions() == []
