"""FEEL unary tests and expressions as Camunda Modeler writes them, and their deploy checks."""

from __future__ import annotations

from typing import Any

import pytest

from flowdesk.engine import validation
from flowdesk.engine.dmn import feel
from flowdesk.engine.languages import sandbox


def passes(test: str, value: Any, **variables: Any) -> bool:
    source = feel.translate_unary_tests(test)
    context = {feel.VARIABLES: {**variables, "cellInput": value}, feel.INPUT: value}
    return sandbox.evaluate(source, {**context, **feel.HELPERS}) is True


def value_of(expression: str, **variables: Any) -> Any:
    source = feel.translate_expression(expression)
    return sandbox.evaluate(source, {feel.VARIABLES: variables, **feel.HELPERS})


@pytest.mark.parametrize("test", ["-", "", "  -  "])
@pytest.mark.parametrize("value", [None, 0, "x", True, [1]])
def test_unary_tests__dash_or_empty_matches_anything(test, value):
    assert passes(test, value)


@pytest.mark.parametrize(
    ("test", "matching", "not_matching"),
    [
        ("5", [5, 5.0], [4, "5", True, None]),
        ('"gold"', ["gold"], ["Gold", "", None, 1]),
        ("true", [True], [False]),
        ("false", [False], [True, 0, None]),
        ("null", [None], [0, "", False]),
        ("-2.5", [-2.5], [2.5]),
        ("< 10", [9, 9.99, -1], [10, 11, None]),
        ("<= 10", [10], [10.5]),
        ("> 10", [11], [10, None]),
        (">= 5", [5, 6], [4.9]),
        ("[1..10]", [1, 5, 10], [0, 11, None]),
        ("]1..10[", [2, 9.5], [1, 10]),
        ("(1..10)", [2], [1, 10]),
        ("[1..10[", [1, 9], [10]),
        ("]1..10]", [10], [1]),
        ('"a","b"', ["a", "b"], ["c", None]),
        ("1, 3, 5", [1, 3, 5], [2]),
        ('not("a","b")', ["c", "A"], ["a", "b"]),
        ("not(< 10)", [10, 11], [9]),
        ("not([1..3])", [0, 4], [2]),
        ("? > 3 and ? < 7", [4, 6], [3, 7]),
        ('"a${x}"', ["a${x}"], ["a"]),
    ],
)
def test_unary_tests__match_as_in_camunda(test, matching, not_matching):
    for value in matching:
        assert passes(test, value), (test, value)
    for value in not_matching:
        assert not passes(test, value), (test, value)


def test_unary_tests__dates_compare_with_dates_and_iso_text():
    assert passes('date("2024-01-01")', "2024-01-01")
    assert passes('[date("2024-01-01")..date("2024-12-31")]', "2024-06-30")
    assert not passes('[date("2024-01-01")..date("2024-12-31")]', "2025-01-01")
    assert passes('< date and time("2024-01-01T10:00:00Z")', "2024-01-01T09:59:59Z")
    assert passes('< date and time("2024-01-01T10:00:00")', "2024-01-01T09:59:59+00:00")
    assert passes('>= date("2024-01-01")', "2024-01-01T00:00:00")


def test_unary_tests__endpoints_may_name_variables_and_paths():
    assert passes("< limit", 5, limit=10)
    assert not passes("< limit", 15, limit=10)
    assert passes("[order.min..order.max]", 5, order={"min": 1, "max": 9})
    assert passes("cellInput > 3", 4)
    assert not passes("cellInput > 3", 3)
    assert passes("amount > limit", "anything", amount=5, limit=3)


def test_unary_tests__ordering_a_number_against_a_string_is_no_match():
    # FEEL Scala 1.17+ (Camunda 7.20+): comparing different types is null, not a failure.
    assert not passes("< 10", "ten")
    assert not passes("[1..10]", "ten")
    assert not passes("not(< 10)", "ten")


def test_unary_tests__unknown_variable_is_null():
    assert not passes("< limit", 5)
    assert not passes("cellInput > limit", 5)
    assert not passes("cellInput > 5", None)
    assert not passes("amount > 5", None)
    assert passes("null", None)
    assert passes("-", 5)


@pytest.mark.parametrize(
    ("expression", "variables"),
    [
        ("missing", {}),
        ("missing.amount", {}),
        ("amount.size", {"amount": 5}),
        ('"a" / 2', {}),
        ("-flag", {"flag": True}),
        ("amount > 1", {"amount": "x"}),
        ("upper case(5)", {}),
        ("count(5)", {}),
        ('number("many")', {}),
    ],
)
def test_expressions__what_feel_cannot_do_is_null(expression, variables):
    assert value_of(expression, **variables) is None


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("amount * 2", {"amount": 21}, 42),
        ("amount / 4", {"amount": 10}, 2.5),
        ("amount / 0", {"amount": 10}, None),
        ("invoice.category", {"invoice": {"category": "travel"}}, "travel"),
        ("invoice.missing", {"invoice": {}}, None),
        ('"Hello " + name', {"name": "Ada"}, "Hello Ada"),
        ('if amount > 1000 then "manual" else "auto"', {"amount": 5}, "auto"),
        ("a = 1 or b != 2", {"a": 2, "b": 2}, False),
        ("not(flag)", {"flag": False}, True),
        ("upper case(name)", {"name": "ada"}, "ADA"),
        ("string length(name) > 2", {"name": "ada"}, True),
        ("sum([1, 2, 3]) + count([1])", {}, 7),
        ('date("2024-02-01")', {}, __import__("datetime").date(2024, 2, 1)),
        ("null", {}, None),
        ("-(2 ** 3)", {}, -8),
        # contexts, filters, indexes, projections, for, some/every, in, between
        ('{bar: "foo"}.bar', {}, "foo"),
        ("{a: 1, b: a + 1}", {}, {"a": 1, "b": 2}),
        ('{"first name": "Ada"}', {}, {"first name": "Ada"}),
        ("xs[item > 2]", {"xs": [1, 2, 3, 4]}, [3, 4]),
        ("xs[1]", {"xs": [7, 8]}, 7),
        ("xs[-1]", {"xs": [7, 8]}, 8),
        ("xs[3]", {"xs": [7, 8]}, None),
        (
            "orders[price > 10].id",
            {"orders": [{"price": 5, "id": "a"}, {"price": 20, "id": "b"}]},
            ["b"],
        ),
        ("orders.price", {"orders": [{"price": 5}, {"price": 20}]}, [5, 20]),
        ("for x in 1..3 return x * 2", {}, [2, 4, 6]),
        ("for x in [1, 2], y in [10, 20] return x * y", {}, [10, 20, 20, 40]),
        ("sum(for o in orders return o.price)", {"orders": [{"price": 5}, {"price": 20}]}, 25),
        ("some x in [1, 5] satisfies x > 4", {}, True),
        ("every x in [1, 5] satisfies x > 4", {}, False),
        ("x in [1..5]", {"x": 5}, True),
        ("x in (1..5)", {"x": 5}, False),
        ('x in ("a", "b")', {"x": "b"}, True),
        ("x in [4, 5]", {"x": 3}, False),
        ("x between 1 and 3", {"x": 3}, True),
        (
            'date and time("2019-09-12T13:00:00@Europe/Berlin") = '
            'date and time("2019-09-12T11:00:00Z")',
            {},
            True,
        ),
    ],
)
def test_expressions__evaluate_like_feel(expression, variables, expected):
    assert value_of(expression, **variables) == expected


@pytest.mark.parametrize(
    ("test", "reason"),
    [
        ("== 5", "'==' at position 0 is not FEEL"),
        ("[1..", "expected a value"),
        ("foo(1)", "unknown function 'foo'"),
        ('date("2024-13-01")', "date() needs an ISO date"),
        ('"open', "is not closed"),
        ("x y", "unexpected text"),
        ("x instance of number", "unexpected text"),
        (">", "expected a value"),
        ("[50..80[ [1]", "unexpected text"),
        ('@"2024-01-01"', "unexpected '@'"),
    ],
)
def test_unary_tests__unsupported_text_is_a_syntax_error(test, reason):
    with pytest.raises(feel.FeelSyntaxError) as raised:
        feel.translate_unary_tests(test)
    assert reason in str(raised.value)


def test_literal_values__reads_output_value_lists():
    assert feel.literal_values('"high", "medium","low"') == ["high", "medium", "low"]
    assert feel.literal_values("1, -2, true") == [1, -2, True]
    with pytest.raises(feel.FeelSyntaxError):
        feel.literal_values("a, b")


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">
  <decision id="check" name="Check">
    <decisionTable id="Table_check" hitPolicy="{hit_policy}"{aggregation}>
      <input id="Input_1" label="Amount">
        <inputExpression id="InputExpression_1" typeRef="integer">
          <text>{input}</text>
        </inputExpression>
      </input>
      <output id="Output_1" label="Label" name="{output_name}" typeRef="string" />
      <output id="Output_2" label="Other" name="other" typeRef="string" />
      <rule id="Rule_1">
        <inputEntry id="Entry_1"><text>{test}</text></inputEntry>
        <outputEntry id="Entry_2"><text>{result}</text></outputEntry>
        <outputEntry id="Entry_3"><text></text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def problems(**fields: str) -> list[tuple[int | None, str | None, str]]:
    tree = validation.parse_xml(dmn_text(**fields).encode(), "check.dmn")
    return [(p.line, p.element_id, p.message) for p in validation.validate_dmn(tree, "check.dmn")]


def test_validate_dmn__supported_cells_have_no_problem():
    assert problems() == []


def dmn_text(**fields: str) -> str:
    values = {
        "hit_policy": "UNIQUE",
        "aggregation": "",
        "input": "amount",
        "output_name": "label",
        "test": "&lt; 10",
        "result": '"small"',
        **fields,
    }
    return DMN.format(**values)


def test_validate_dmn__untranslatable_unary_test_names_file_line_and_entry():
    (found,) = problems(test="== 5")
    assert found[:2] == (13, "Entry_1")
    assert found[2].startswith("decision 'check': input entry 1 of rule 'Rule_1': '== 5' is not")
    tree = validation.parse_xml(dmn_text(test="== 5").encode(), "check.dmn")
    (problem,) = validation.validate_dmn(tree, "check.dmn")
    assert str(problem).startswith("check.dmn:13 [Entry_1]: decision 'check'")


def test_validate_dmn__untranslatable_output_and_input_expressions_are_reported():
    assert [p[:2] for p in problems(result="a instance of number", input="amount +")] == [
        (6, "InputExpression_1"),
        (14, "Entry_2"),
    ]


def test_validate_dmn__juel_cells_are_checked_with_the_juel_translator():
    assert problems(test="${cellInput &lt; 10}") == []
    (found,) = problems(test="${cellInput &lt; }")
    assert found[1] == "Entry_1"


def test_validate_dmn__output_without_name_is_reported():
    (found,) = problems(output_name="")
    assert found[1] == "Output_1"
    assert "has no name" in found[2]


def test_validate_dmn__aggregation_needs_collect_and_one_output():
    messages = [p[2] for p in problems(hit_policy="FIRST", aggregation=' aggregation="SUM"')]
    assert messages == ["decision 'check': aggregation SUM needs hit policy COLLECT, not FIRST"]
    messages = [p[2] for p in problems(hit_policy="COLLECT", aggregation=' aggregation="SUM"')]
    assert messages == [
        "decision 'check': aggregation SUM needs exactly one output column, the table has 2"
    ]


def test_validate_dmn__other_expression_languages_are_reported():
    text = dmn_text().replace(
        '<inputEntry id="Entry_1">', '<inputEntry id="Entry_1" expressionLanguage="groovy">'
    )
    tree = validation.parse_xml(text.encode(), "check.dmn")
    (problem,) = validation.validate_dmn(tree, "check.dmn")
    assert problem.element_id == "Entry_1"
    assert "expression language 'groovy'" in problem.message


def test_validate_dmn__required_decision_cycle_is_reported():
    text = """<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d">
  <decision id="a"><informationRequirement><requiredDecision href="#b" /></informationRequirement>
    <variable name="a" /><literalExpression id="La"><text>1</text></literalExpression></decision>
  <decision id="b"><informationRequirement><requiredDecision href="#a" /></informationRequirement>
    <variable name="b" /><literalExpression id="Lb"><text>2</text></literalExpression></decision>
</definitions>"""
    tree = validation.parse_xml(text.encode(), "cycle.dmn")
    found = [(p.element_id, p.message) for p in validation.validate_dmn(tree, "cycle.dmn")]
    assert found == [
        ("a", "decision 'a': decision 'a' requires itself through its required decisions"),
        ("b", "decision 'b': decision 'b' requires itself through its required decisions"),
    ]
