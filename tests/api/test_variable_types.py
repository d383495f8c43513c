"""Process variables of Camunda 7's types round-trip; what none of them can hold is refused.

String, Boolean, Integer/Long, Double, Date (aware datetime or date), Bytes, Null and Json
(nested lists and dicts of these) come back as they were given, through a reload of the
engine, the queries and the scripts; NaN, Infinity, naive datetimes, values of other Python
types, and values deeper or larger than the Engine's `InputLimits` are refused with a typed
error before anything is stored.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import flowdesk
from tests.api.conftest import DATA, EXAMPLES

SHANGHAI = timezone(timedelta(hours=8))

EVERY_TYPE = {
    "name": "Zhang Wei 张伟",
    "approved": True,
    "count": 42,
    "long": 2**63 - 1,
    "negative_long": -(2**63),
    "amount": 1234.5,
    "due": datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=SHANGHAI),
    "signed_at": datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
    "birthday": date(1990, 5, 17),
    "scan": b"\x00\x01\xfe\xff",
    "nothing": None,
    "order": {
        "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": 1, "price": None}],
        "delivered": [date(2026, 3, 5)],
        "tags": [],
    },
    # A caller's dicts may hold the keys both serialisations use for their own tags.
    "looks_tagged": {"typename": "datetime", "value": "2020-01-01T00:00:00"},
    "looks_flowdesk": {"$flowdesk": "Date", "value": "2020-01-01"},
    "nested_typename": [{"typename": "no such type"}],
}


@pytest.fixture
def orders(make_engine):
    engine = make_engine()
    engine.deploy(DATA / "variable_types.bpmn")
    return engine


def _start(engine: flowdesk.Engine, **variables: object) -> flowdesk.ProcessInstance:
    defaults: dict[str, object] = {
        "due": datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI),
        "deadline": datetime(2026, 3, 4, tzinfo=UTC),
        "payload": b"abc",
    }
    return engine.start("variable_types", {**defaults, **variables})


def test_every_camunda_type__round_trips_through_a_new_engine_and_a_step(make_engine) -> None:
    first = make_engine()
    first.deploy(DATA / "variable_types.bpmn")
    started = _start(first, **EVERY_TYPE)
    assert {name: started.variables[name] for name in EVERY_TYPE} == EVERY_TYPE

    second = make_engine()
    reloaded = second.instance(started.id)
    assert {name: reloaded.variables[name] for name in EVERY_TYPE} == EVERY_TYPE
    (task,) = second.tasks(instance_id=started.id)
    stepped = second.complete(task.id, {})

    third = make_engine()
    assert stepped.variables == third.instance(started.id).variables
    for name, value in EVERY_TYPE.items():
        assert third.instance(started.id).variables[name] == value, name
        assert type(third.instance(started.id).variables[name]) is type(value), name


def test_a_datetime__keeps_its_offset_and_a_zone_becomes_its_offset(orders) -> None:
    berlin = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    started = _start(orders, due=berlin)

    due = orders.instance(started.id).variables["due"]
    assert due == berlin
    assert due.utcoffset() == timedelta(hours=2)
    assert due.isoformat() == "2026-07-01T09:00:00+02:00"


def test_scripts_and_juel__see_dates_as_python_dates(orders) -> None:
    early = _start(orders, due=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    late = _start(orders, due=datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    for instance in (early, late):
        (task,) = orders.tasks(instance_id=instance.id)
        orders.complete(task.id, {})

    variables = orders.instance(early.id).variables
    assert variables["follow_up"] == datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    assert variables["shipped_on"] == date(2026, 3, 2)
    assert variables["weekday"] == 0
    assert variables["payload_size"] == 3
    # `${follow_up < deadline}` compared the instants.
    assert [t.element_id for t in orders.tasks(instance_id=early.id)] == ["Task_early"]
    assert [t.element_id for t in orders.tasks(instance_id=late.id)] == ["Task_late"]


def test_nan_and_infinity_a_script_computes__are_stored_and_queries_keep_working(orders) -> None:
    instance = _start(orders, customer="C-1")
    (task,) = orders.tasks(instance_id=instance.id)
    orders.complete(task.id, {})

    variables = orders.instance(instance.id).variables
    assert math.isnan(variables["ratio"])
    assert variables["ceiling"] == math.inf
    assert [i.id for i in orders.instances(variables={"customer": "C-1"})] == [instance.id]
    assert [i.id for i in orders.instances(variables={"payload_size": 3})] == [instance.id]
    assert orders.history(instance.id)


def test_queries__find_instances_beside_dates_and_bytes(orders) -> None:
    wanted = _start(orders, customer="C-1", rush=True, amount=900)
    _start(orders, customer="C-2", rush=False, amount=900.5)

    assert [i.id for i in orders.instances(variables={"customer": "C-1"})] == [wanted.id]
    assert [i.id for i in orders.instances(variables={"rush": True})] == [wanted.id]
    assert [i.id for i in orders.instances(variables={"amount": 900})] == [wanted.id]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "Infinity"),
        ([1.0, {"deep": math.nan}], "NaN"),
        (datetime(2026, 3, 2, 9, 0), "naive datetime"),
        (2**63, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        ({1, 2}, "a set is no Camunda variable type"),
        (object(), "an object is no Camunda variable type"),
        (timedelta(days=1), "a timedelta is no Camunda variable type"),
        ({1: "one"}, "a Json key must be text"),
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
    ],
)
def test_a_value_of_no_camunda_type__is_refused_and_nothing_is_stored(
    orders, value: object, reason: str
) -> None:
    with pytest.raises(flowdesk.VariableError, match=reason) as refused:
        _start(orders, bad=value)

    assert refused.value.name.startswith("bad")
    assert orders.instances() == []


def test_every_call_that_takes_variables__refuses_nan(orders) -> None:
    instance = _start(orders)
    (task,) = orders.tasks(instance_id=instance.id)
    calls = [
        lambda: orders.complete(task.id, {"score": math.nan}),
        lambda: orders.correlate("no message", variables={"score": math.nan}),
        lambda: orders.correlate("no message", correlation_keys={"score": math.nan}),
        lambda: orders.signal("no signal", {"score": math.nan}),
        lambda: orders.trigger(instance.id, "Task_review", variables={"score": math.nan}),
        lambda: orders.evaluate_decision("no decision", {"score": math.nan}),
        lambda: orders.instances(variables={"score": math.nan}),
    ]
    for call in calls:
        with pytest.raises(flowdesk.VariableError, match="NaN"):
            call()
    assert orders.tasks(instance_id=instance.id) == [task]
    assert orders.instance(instance.id).variables == instance.variables


def test_a_variable_name_that_is_no_text__is_refused(orders) -> None:
    with pytest.raises(flowdesk.VariableError, match="name must be text"):
        orders.start("variable_types", {1: "one"})  # type: ignore[dict-item]


def test_a_value_500_levels_deep__is_refused_as_over_the_depth_limit(orders) -> None:
    deep: list[object] = []
    for _ in range(500):
        deep = [deep]

    with pytest.raises(flowdesk.LimitExceeded, match="max_variable_depth") as refused:
        _start(orders, deep=deep)

    assert refused.value.limit == "max_variable_depth"
    assert refused.value.maximum == 64
    assert "deep" in refused.value.what
    assert orders.instances() == []


def test_the_depth_limit__admits_exactly_its_depth(make_engine) -> None:
    engine = make_engine(input_limits=flowdesk.InputLimits(max_variable_depth=3))
    engine.deploy(DATA / "variable_types.bpmn")

    assert _start(engine, nested={"a": [{"b": 1}]}).variables["nested"] == {"a": [{"b": 1}]}
    with pytest.raises(flowdesk.LimitExceeded):
        _start(engine, nested={"a": [{"b": [1]}]})


def test_variables_over_the_size_limit__are_refused_per_engine(make_engine) -> None:
    small = make_engine(input_limits=flowdesk.InputLimits(max_variables_bytes=10_000))
    small.deploy(DATA / "variable_types.bpmn")

    with pytest.raises(flowdesk.LimitExceeded, match="max_variables_bytes") as refused:
        _start(small, text="x" * 10_000)
    assert refused.value.size > 10_000
    assert small.instances() == []

    roomy = make_engine(input_limits=flowdesk.InputLimits(max_variables_bytes=100_000))
    assert _start(roomy, text="x" * 10_000).variables["text"] == "x" * 10_000


def test_the_default_size_limit__refuses_a_5_mib_value(orders) -> None:
    with pytest.raises(flowdesk.LimitExceeded, match="max_variables_bytes"):
        _start(orders, blob=b"\x00" * (5 * 1024 * 1024))


def test_input_limits__must_be_positive_and_depth_at_most_200() -> None:
    for bad in (
        {"max_file_bytes": 0},
        {"max_variables_bytes": -1},
        {"max_variable_depth": 201},
    ):
        with pytest.raises(ValueError):
            flowdesk.InputLimits(**bad)  # type: ignore[arg-type]


def test_a_file_over_the_size_limit__is_refused_at_deploy(make_engine, tmp_path: Path) -> None:
    engine = make_engine(input_limits=flowdesk.InputLimits(max_file_bytes=1000))

    with pytest.raises(flowdesk.BpmnValidationError, match="max_file_bytes=1000") as refused:
        engine.deploy(EXAMPLES / "expense_approval.bpmn")

    assert refused.value.file.endswith("expense_approval.bpmn")
    assert engine.definitions() == []


def test_variable_errors__are_value_and_type_errors_as_before() -> None:
    assert issubclass(flowdesk.VariableError, flowdesk.InvalidArgument)
    assert issubclass(flowdesk.VariableError, TypeError)
    assert issubclass(flowdesk.LimitExceeded, ValueError)
    assert issubclass(flowdesk.InvalidArgument, flowdesk.FlowdeskError)


def test_an_unknown_url_scheme__is_a_store_error() -> None:
    with pytest.raises(flowdesk.StoreError, match="foo://"):
        flowdesk.Engine("foo://nowhere", load_entry_points=False)


def test_a_value_200_deep__the_most_an_engine_accepts__round_trips_a_restart(make_engine) -> None:
    limits = flowdesk.InputLimits(max_variable_depth=200)
    deep: object = "bottom"
    for _ in range(199):
        deep = [deep]
    deep = {"level": deep}
    first = make_engine(input_limits=limits)
    first.deploy(DATA / "variable_types.bpmn")
    instance = _start(first, deep=deep)

    second = make_engine(input_limits=limits)
    (task,) = second.tasks(instance_id=instance.id)
    second.complete(task.id, {"deeper": deep})

    assert make_engine().instance(instance.id).variables["deeper"] == deep


def test_message_variables__of_every_type_reach_the_waiting_instance_through_a_restart(
    make_engine,
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "messages.bpmn")
    waiting = engine.start("quote", business_key="Q-1")
    sent = {
        "signed_on": date(2026, 3, 2),
        "received_at": datetime(2026, 3, 2, 9, tzinfo=SHANGHAI),
        "terms": {"typename": "datetime", "value": "not a date"},
        "accepted": True,
    }

    make_engine().correlate("customer_feedback", business_key="Q-1", variables=sent)

    variables = make_engine().instance(waiting.id).variables
    assert {name: variables[name] for name in sent} == sent
