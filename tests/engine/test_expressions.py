"""JUEL expressions: what they evaluate to (operators, precedence, literals, contexts, errors).

The tests evaluate through the sandbox, as the engine does; EL's coercion rules have their own
table in test_el_coercion.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from flowdesk.engine.languages.expressions import (
    called_functions,
    is_juel,
    translate,
    translate_value,
)
from flowdesk.engine.languages.sandbox import evaluate, evaluate_value
from flowdesk.errors import ExpressionError


@pytest.mark.parametrize(
    ("juel", "variables", "expected"),
    [
        ("${amount > 1000}", {"amount": 1500}, True),
        ("${amount < 1000}", {"amount": 1500}, False),
        ("${amount >= 1000}", {"amount": 1000}, True),
        ("${amount <= 999}", {"amount": 1000}, False),
        ("${decision == 'approve'}", {"decision": "approve"}, True),
        ('${decision == "approve"}', {"decision": "reject"}, False),
        ("${decision != 'approve'}", {"decision": "reject"}, True),
        ("${a eq b}", {"a": 1, "b": 1}, True),
        ("${a ne b}", {"a": 1, "b": 1}, False),
        ("${a lt b}", {"a": 1, "b": 2}, True),
        ("${a gt b}", {"a": 1, "b": 2}, False),
        ("${a le b}", {"a": 2, "b": 2}, True),
        ("${a ge b}", {"a": 1, "b": 2}, False),
        ("${a && b}", {"a": True, "b": False}, False),
        ("${a || b}", {"a": False, "b": True}, True),
        ("${!a}", {"a": False}, True),
        ("${a and b}", {"a": True, "b": True}, True),
        ("${a or b}", {"a": False, "b": False}, False),
        ("${not a}", {"a": True}, False),
        ("${a || b && c}", {"a": True, "b": False, "c": False}, True),
        ("${(a || b) && c}", {"a": True, "b": False, "c": False}, False),
        ("${!a == b}", {"a": False, "b": True}, True),
        ("${!(a == b)}", {"a": 1, "b": 1}, False),
        ("${a + b * c}", {"a": 1, "b": 2, "c": 3}, 7),
        ("${(a + b) * c}", {"a": 1, "b": 2, "c": 3}, 9),
        ("${a - b - c}", {"a": 10, "b": 3, "c": 2}, 5),
        ("${a - (b - c)}", {"a": 10, "b": 3, "c": 2}, 9),
        ("${a div b mod 4}", {"a": 9, "b": 2}, 0.5),
        ("${-a * 2}", {"a": 3}, -6),
        ("${- -a}", {"a": 3}, 3),
        ("${-a.b + 1}", {"a": {"b": 4}}, -3),
        ("${a < b < c}", {"a": 3, "b": 2, "c": True}, True),  # (a < b) < c, no chaining
        ("${true}", {}, True),
        ("${null}", {}, None),
        ("${x == null}", {"x": None}, True),
        ("${.5}", {}, 0.5),
        ("${2e3}", {}, 2000.0),
        ("${007}", {}, 7),
        ("${empty x || y}", {"x": [], "y": False}, True),
        ("${a ? b : c ? d : e}", {"a": False, "b": 1, "c": True, "d": 2, "e": 3}, 2),
        ("${(a ? b : c) == d}", {"a": True, "b": 1, "c": 2, "d": 1}, True),
        ("${amount > 1000 ? 'big' : 'small'}", {"amount": 5}, "small"),
        ("${a.b.c.d}", {"a": {"b": {"c": {"d": 4}}}}, 4),
        ("${a.b[0].c['d']}", {"a": {"b": [{"c": {"d": 5}}]}}, 5),
        ("${a[b.c]}", {"a": {"k": 1}, "b": {"c": "k"}}, 1),
        ("${a.from}", {"a": {"from": "x"}}, "x"),
        ("${task.empty}", {"task": {"empty": "yes"}}, "yes"),
        ("${x.from.size()}", {"x": {"from": [1, 2]}}, 2),
        ("${s == 'a && b'}", {"s": "a && b"}, True),
        ("${s == '}'}", {"s": "}"}, True),
        ("${s == '${x}'}", {"s": "${x}"}, True),
        (r"${s == 'it\'s'}", {"s": "it's"}, True),
        (r"${s == 'back\\slash'}", {"s": "back\\slash"}, True),
        ("${order > 1}", {"order": 2}, True),
        ("${android && notes}", {"android": True, "notes": True}, True),
        ("${divisor div modulo}", {"divisor": 1, "modulo": 4}, 0.25),
        ("${empty_list}", {"empty_list": 1}, 1),
        ("#{amount > 1000}", {"amount": 1001}, True),
        ("${ amount\n  > 1000 }", {"amount": 1001}, True),
        ("\n  ${amount > 1000}\n", {"amount": 1}, False),
        ("${class}", {"class": "keyword as identifier"}, "keyword as identifier"),
        ("${None}", {"None": 1}, 1),
        ("${a$b}", {"a$b": 2}, 2),
    ],
)
def test_evaluate__juel_value(juel: str, variables: dict[str, Any], expected: Any) -> None:
    value = evaluate(juel, variables)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("juel", "variables", "expected"),
    [
        ("${_newApprovedItems.size() > 0}", {"_newApprovedItems": [1]}, True),
        ("#{_newApprovedItems.size()>0}", {"_newApprovedItems": []}, False),
        ("${_x + 1}", {"_x": 1}, 2),
        ("${m._private}", {"m": {"_private": 3}}, 3),
    ],
)
def test_evaluate__names_starting_with_underscore_are_data(
    juel: str, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(juel, variables) == expected


def test_evaluate__unknown_identifier_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unknown variable '_missing'"):
        evaluate("${_missing}", {})
    with pytest.raises(ExpressionError, match="unknown variable 'missing'"):
        evaluate("${missing}", {})


@pytest.mark.parametrize(
    ("juel", "variables", "expected"),
    [
        ("${s.length()}", {"s": "abc"}, 3),
        ("${s.isEmpty()}", {"s": ""}, True),
        ("${s.contains('b')}", {"s": "abc"}, True),
        ("${s.startsWith('a')}", {"s": "abc"}, True),
        ("${s.endsWith('a')}", {"s": "abc"}, False),
        ("${s.equals('abc')}", {"s": "abc"}, True),
        ("${s.equals(1)}", {"s": "1"}, False),
        ("${s.equalsIgnoreCase('ABC')}", {"s": "abc"}, True),
        ("${s.toUpperCase()}", {"s": "abc"}, "ABC"),
        ("${s.toLowerCase()}", {"s": "ABC"}, "abc"),
        ("${s.trim()}", {"s": "  a "}, "a"),
        ("${s.substring(1)}", {"s": "abc"}, "bc"),
        ("${s.substring(0, 2)}", {"s": "abc"}, "ab"),
        ("${s.indexOf('c')}", {"s": "abc"}, 2),
        ("${s.charAt(1)}", {"s": "abc"}, "b"),
        ("${s.replace('b', 'x')}", {"s": "abcb"}, "axcx"),
        ("${s.replaceAll('([a-z])[0-9]', '$1')}", {"s": "a1b2"}, "ab"),
        ("${s.matches('[a-c]+')}", {"s": "abc"}, True),
        ("${s.split(',').size()}", {"s": "a,b,,"}, 2),
        ("${s.concat(1)}", {"s": "a"}, "a1"),
        ("${s.empty}", {"s": ""}, True),
        ("${xs.size()}", {"xs": [1, 2]}, 2),
        ("${xs.isEmpty()}", {"xs": []}, True),
        ("${xs.contains('a')}", {"xs": ["a"]}, True),
        ("${xs.get(1)}", {"xs": [1, 2]}, 2),
        ("${xs.indexOf(2)}", {"xs": [1, 2]}, 1),
        ("${m.size()}", {"m": {"a": 1}}, 1),
        ("${m.containsKey('a')}", {"m": {"a": 1}}, True),
        ("${m.get('b')}", {"m": {"a": 1}}, None),
        ("${m.getOrDefault('b', 5)}", {"m": {"a": 1}}, 5),
        ("${m.keySet().contains('a')}", {"m": {"a": 1}}, True),
        ("${n.intValue()}", {"n": 2.7}, 2),
        ("${n.toString()}", {"n": 2.0}, "2.0"),
        ("${b.toString()}", {"b": True}, "true"),
        ("${m.toString()}", {"m": {"a": 1}}, "{a=1}"),
        # A JSON variable is a Spin node in Camunda: Spin's methods work on it directly.
        ("${c.prop('age').numberValue() >= 21}", {"c": {"age": 30}}, True),
        ("${c.hasProp('age')}", {"c": {}}, False),
        ("${xs.elements()[1].stringValue()}", {"xs": ["a", "b"]}, "b"),
    ],
)
def test_evaluate__java_methods_on_variables(
    juel: str, variables: dict[str, Any], expected: Any
) -> None:
    value = evaluate(juel, variables)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("juel", "variables", "reason"),
    [
        ("${s.nosuch()}", {"s": "a"}, "method nosuch() with 0 argument(s) not found on String"),
        ("${xs.get(5)}", {"xs": [1]}, "out of bounds"),
        ("${x.size()}", {"x": None}, "cannot call size() on null"),
        ("${s.length}", {"s": "abc"}, "property 'length' not found on type String"),
        ("${s.format(1)}", {"s": "{0}"}, "not found on String"),
    ],
)
def test_evaluate__java_method_errors(juel: str, variables: dict[str, Any], reason: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(reason)):
        evaluate(juel, variables)


def test_evaluate__mixed_text_coerces_like_el() -> None:
    assert evaluate("a_${x}_${y}_${z}", {"x": None, "y": True, "z": 3}) == "a__true_3"
    assert evaluate("Order ${o.id} is ${o.state}!", {"o": {"id": 7}}) == "Order 7 is !"


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("amount > 1000 and ok", {"amount": 2000, "ok": True}, True),
        ("x['a'] if y else len(z)", {"x": {"a": 1}, "y": False, "z": [1, 2]}, 2),
        ("[i for i in items if i]", {"items": [0, 1]}, [1]),
        ("'1' == 1", {}, False),  # plain Python keeps Python's meaning
        ("\n    amount > 1000\n  ", {"amount": 1}, False),
    ],
)
def test_evaluate__plain_python_keeps_python_meaning(
    text: str, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(text, variables) == expected


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("PT1H", {}, "PT1H"),
        ("sales, leadership", {}, "sales, leadership"),
        ("", {}, ""),
        ("amount > 1000", {}, "amount > 1000"),
        ("${assignee}", {"assignee": "ann"}, "ann"),
        ("  ${priority}\n", {"priority": 3}, 3),
        ("${priority + 1}", {"priority": "3"}, 4),
        ("user_${id}", {"id": 7}, "user_7"),
        (r"cost: \${amount}", {}, "cost: ${amount}"),
        (r"\#{x} ${y}", {"y": 1}, "#{x} 1"),
    ],
)
def test_evaluate_value__contexts(text: str, variables: dict[str, Any], expected: Any) -> None:
    assert evaluate_value(text, variables) == expected


def test_execution__read_only_view_without_a_running_task() -> None:
    variables = {"amount": 5, "instance_id": "i-1", "business_key": "SO-1"}
    assert evaluate("${execution.getVariable('amount') > 4}", variables) is True
    assert evaluate("${execution.getVariable('missing')}", variables) is None
    assert evaluate("${execution.hasVariable('amount')}", variables) is True
    assert evaluate("${execution.processInstanceId}", variables) == "i-1"
    assert evaluate("${execution.getBusinessKey()}", variables) == "SO-1"
    assert evaluate("${execution.processBusinessKey}", variables) == "SO-1"
    with pytest.raises(ExpressionError, match="setVariable is not available here"):
        evaluate("${execution.setVariable('a', 1)}", variables)


def test_called_functions__lists_function_calls_not_methods() -> None:
    assert called_functions("${S(x).prop('a').numberValue() > now()}") == {"S", "now"}
    assert called_functions("${mailer.send(x)}") == frozenset()
    assert called_functions("plain(python)") == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a}", True),
        ("#{a}", True),
        ("x ${a} y", True),
        ("amount > 1000", False),
        ("PT1H", False),
        ("$ {a}", False),
        (r"\${a}", False),
        ("price in $", False),
    ],
)
def test_is_juel__detects_expressions(text: str, expected: bool) -> None:
    assert is_juel(text) is expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${amount >}", "unexpected end of expression"),
        ("${amount > 1000", "unclosed"),
        ("x ${a", "unclosed"),
        ("${(a > 1}", "expected ')'"),
        ("${a[0}", "expected ']'"),
        ("${a ? b}", "expected ':'"),
        ("${f(a,}", "unexpected end"),
        ("${a b}", "unexpected 'b'"),
        ("${}", "empty expression"),
        ("${   }", "empty expression"),
        ("${a = 1}", "'=' is not supported"),
        ("${a & b}", "unexpected character '&'"),
        ("${a ; b}", "unexpected character ';'"),
        ("${{'a': 1}}", "unexpected character '{'"),
        ("${'abc}", "unterminated string"),
        (r"${'a\n'}", "invalid escape"),
        ("${a.}", "expected a property name"),
        ("${x instanceof y}", "'instanceof' is not supported"),
        ("${__builtins__}", "reserved by the sandbox"),
        ("${_getattr_}", "reserved by the sandbox"),
        ("${juel_scope}", "reserved by the sandbox"),
        ("${class(1)}", "no function 'class'"),
        ("amount >", "not a valid Python expression"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("${" + "(" * 500 + "1" + ")" * 500 + "}", "nests too deeply"),
    ],
)
def test_translate__invalid_raises_expression_error(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        translate(text, element_id="gw_amount")
    assert reason in caught.value.reason
    assert caught.value.expression == text
    assert caught.value.element_id == "gw_amount"


def test_translate__error_names_position() -> None:
    with pytest.raises(ExpressionError, match="at position 10"):
        translate("${amount >}")


def test_translate_value__invalid_raises_expression_error() -> None:
    with pytest.raises(ExpressionError, match="unclosed"):
        translate_value("user_${id", element_id="task")


def test_translate__cached() -> None:
    assert translate("${cached_amount > 1}") is translate("${cached_amount > 1}")
