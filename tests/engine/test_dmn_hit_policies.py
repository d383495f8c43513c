"""Hit policies, aggregation, required decisions and type conversion of flowdesk's DMN engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowdesk.engine import validation
from flowdesk.engine.dmn import evaluation, reader
from flowdesk.engine.dmn.task import map_result
from flowdesk.errors import DecisionError

DATA = Path(__file__).parents[1] / "api" / "data"


def graph(name: str) -> Any:
    path = DATA / name
    tree = validation.parse_xml(path.read_bytes(), path.name)
    decisions, problems = reader.read(tree.getroot(), path.name)
    assert problems == []
    return decisions


HIT = graph("decisions_hit_policies.dmn")
SHIPPING = graph("decisions_graph.dmn")


def decide(decision_id: str, **variables: Any) -> evaluation.DecisionResult:
    return evaluation.evaluate(HIT, decision_id, variables)


def test_unique__one_matching_rule_is_the_result():
    result = decide("unique_grade", score=85)
    assert (result.kind, result.entries) == ("single", [{"grade": "distinction"}])
    assert decide("unique_grade", score=-1).value() is None


def test_unique__two_matching_rules_are_an_error_naming_them():
    with pytest.raises(DecisionError) as raised:
        decide("unique_grade", score=95)
    assert raised.value.decision_id == "unique_grade"
    assert raised.value.element_id == "Unique_honours"
    assert "['Unique_distinction', 'Unique_honours']" in str(raised.value)


def test_first__the_first_matching_rule_wins():
    assert decide("first_grade", score=95).value() == {"grade": "distinction"}


def test_priority__the_rule_whose_output_ranks_highest_wins():
    # Rules are listed low, medium, high; the output values rank high first.
    assert decide("priority_discount", amount=5000).value() == {"level": "high", "percent": 20}
    assert decide("priority_discount", amount=50).value() == {"level": "low", "percent": 5}


def test_output_order__all_matches_by_priority():
    assert decide("output_order_discount", amount=500).value() == [
        {"level": "medium", "percent": 10},
        {"level": "low", "percent": 5},
    ]


def test_any__agreeing_rules_give_their_output_and_disagreeing_ones_fail():
    assert decide("any_check", size=25).value() == {"verdict": "ok"}
    with pytest.raises(DecisionError, match="hit policy ANY needs the matching rules to agree"):
        decide("any_check", size=35)


def test_collect__every_match_in_rule_order_without_empty_outputs():
    assert decide("collect_tags", country="DE", amount=2000).value() == [
        {"tag": "eu", "weight": 1},
        {"tag": "big", "weight": 2},
        {"tag": "home"},
    ]
    assert decide("collect_tags", country="CH", amount=1).value() == [
        {"tag": "export", "weight": 3}
    ]


def test_rule_order__every_match_in_rule_order():
    assert decide("rule_order_tags", country="FR", amount=5000).value() == [
        {"tag": "big"},
        {"tag": "eu"},
    ]
    assert decide("rule_order_tags", country="US", amount=1).value() == []


@pytest.mark.parametrize(
    ("aggregation", "items", "expected"),
    [
        ("sum", 12, {"points": 45}),
        ("min", 12, {"points": 5}),
        ("max", 12, {"points": 30}),
        ("count", 12, {"points": 3}),
        ("sum", 3, {"points": 10}),
        ("count", 0, {"points": 0}),
        ("sum", 0, None),
        ("max", 0, None),
    ],
)
def test_collect_aggregation__one_value_under_the_output_name(aggregation, items, expected):
    result = decide(f"points_{aggregation}", items=items)
    assert result.kind == "aggregate"
    assert result.value() == expected


def test_literal_expression__value_under_its_variable_name():
    result = decide("greeting", name="Ada")
    assert (result.kind, result.value()) == ("literal", {"greeting": "Hello Ada"})


def test_required_decisions__results_become_variables_of_the_requiring_decision():
    def ship(**variables: Any) -> Any:
        return evaluation.evaluate(SHIPPING, "shipping", variables).value()

    loyal = {"since": "2019-05-01", "orders": 1}
    active = {"since": "2023-05-01", "orders": 30}
    assert ship(customer=loyal, express=True, weight=1) == {"carrier": "courier", "fee": 0.0}
    assert ship(customer=active, express=True, weight=20) == {"carrier": "courier", "fee": 19.0}
    assert ship(customer=active, express=False, weight=1) == {"carrier": "post", "fee": 4.5}


def test_required_decisions__list_results_become_lists_per_output():
    variables: dict[str, Any] = {}
    evaluation.add_to_variables(decide("rule_order_tags", country="DE", amount=5000), variables)
    assert variables == {"tag": ["big", "eu", "home"]}
    evaluation.add_to_variables(decide("first_grade", score=60), variables)
    assert variables["grade"] == "pass"


def test_type_ref__inputs_are_converted_and_bad_values_fail_with_the_column():
    assert decide("unique_grade", score="85").value() == {"grade": "distinction"}
    with pytest.raises(DecisionError) as raised:
        decide("unique_grade", score="a lot")
    assert raised.value.element_id == "Input_unique_grade_1"
    assert "a string cannot be converted to typeRef 'integer'" in str(raised.value)
    assert "a lot" not in str(raised.value)  # values stay out of messages


def test_unknown_variable__is_null_and_matches_no_range():
    # FEEL Scala 1.17+ (Camunda 7.20+): an unknown variable is null, not a failure.
    assert decide("unique_grade").entries == []


@pytest.mark.parametrize(
    ("mapping", "decision", "variables", "expected"),
    [
        (
            "resultList",
            "collect_tags",
            {"country": "US", "amount": 1},
            [{"tag": "export", "weight": 3}],
        ),
        ("resultList", "unique_grade", {"score": -5}, []),
        ("singleResult", "first_grade", {"score": 10}, {"grade": "fail"}),
        ("singleResult", "first_grade", {"score": -5}, None),
        ("singleEntry", "first_grade", {"score": 60}, "pass"),
        ("singleEntry", "points_sum", {"items": 12}, 45),
        ("singleEntry", "greeting", {"name": "Bo"}, "Hello Bo"),
        ("collectEntries", "rule_order_tags", {"country": "IT", "amount": 5}, ["eu"]),
        ("collectEntries", "rule_order_tags", {"country": "US", "amount": 5}, []),
    ],
)
def test_map_result__follows_camunda(mapping, decision, variables, expected):
    assert map_result(decide(decision, **variables), mapping) == expected


@pytest.mark.parametrize(
    ("mapping", "decision", "variables", "reason"),
    [
        (
            "singleResult",
            "rule_order_tags",
            {"country": "DE", "amount": 5},
            "at most one matching rule",
        ),
        ("singleEntry", "priority_discount", {"amount": 5}, "one output per rule"),
        ("collectEntries", "collect_tags", {"country": "US", "amount": 5}, "one output per rule"),
    ],
)
def test_map_result__a_result_that_does_not_fit_is_an_error(mapping, decision, variables, reason):
    with pytest.raises(DecisionError, match=reason):
        map_result(decide(decision, **variables), mapping)
