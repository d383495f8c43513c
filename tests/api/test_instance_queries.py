"""Instances are found by their variables' values, as Camunda's variableValueEquals finds them."""

from __future__ import annotations

import pytest
from conftest import DATA

import flowdesk


@pytest.fixture
def orders(engine: flowdesk.Engine) -> dict[str, str]:
    engine.deploy(DATA / "parallel_review.bpmn")
    started = {
        "big": {"customer_id": "C-1", "amount": 900, "rush": True, "rate": 0.5},
        "small": {"customer_id": "C-1", "amount": 90, "rush": False, "rate": 1.5},
        "other": {"customer_id": "C-2", "amount": 900, "rush": True},
        "text": {"customer_id": "C-3", "amount": "900", "rush": "true"},
    }
    return {
        name: engine.start("parallel_review", variables).id for name, variables in started.items()
    }


def found(engine: flowdesk.Engine, **variables: object) -> set[str]:
    return {i.id for i in engine.instances(variables=variables)}  # type: ignore[arg-type]


def test_instances__by_variable_values_of_each_type(engine, orders) -> None:
    assert found(engine, customer_id="C-1") == {orders["big"], orders["small"]}
    assert found(engine, amount=900) == {orders["big"], orders["other"]}
    assert found(engine, rush=True) == {orders["big"], orders["other"]}
    assert found(engine, rush=False) == {orders["small"]}
    assert found(engine, rate=1.5) == {orders["small"]}
    assert found(engine, customer_id="C-1", amount=900) == {orders["big"]}


def test_instances__a_variable_matches_only_a_value_of_its_own_type(engine, orders) -> None:
    assert found(engine, amount="900") == {orders["text"]}
    assert found(engine, rush="true") == {orders["text"]}
    assert found(engine, customer_id="C-9") == set()
    assert found(engine, missing=1) == set()


def test_instances__a_list_value_is_refused(engine, orders) -> None:
    with pytest.raises(TypeError, match="string, number or boolean"):
        engine.instances(variables={"customer_id": ["C-1"]})  # type: ignore[dict-item]
