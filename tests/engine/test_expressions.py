"""JUEL -> Python translation: operators, literals, contexts and errors."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from flowdesk.engine import expressions
from flowdesk.engine.expressions import is_juel, translate, translate_value
from flowdesk.errors import ExpressionError


def _run(source: str, **variables: Any) -> Any:
    # Plain eval on purpose: these tests check the translation, not the sandbox.
    return eval(
        source, {"__builtins__": {"len": len, "str": str}, **expressions.RUNTIME_HELPERS}, variables
    )


@pytest.mark.parametrize(
    ("juel", "python"),
    [
        ("${amount > 1000}", "amount > 1000"),
        ("${amount < 1000}", "amount < 1000"),
        ("${amount >= 1000}", "amount >= 1000"),
        ("${amount <= 1000}", "amount <= 1000"),
        ("${decision == 'approve'}", "decision == 'approve'"),
        ('${decision == "approve"}', "decision == 'approve'"),
        ("${decision != 'approve'}", "decision != 'approve'"),
        ("${a eq b}", "a == b"),
        ("${a ne b}", "a != b"),
        ("${a lt b}", "a < b"),
        ("${a gt b}", "a > b"),
        ("${a le b}", "a <= b"),
        ("${a ge b}", "a >= b"),
        ("${a && b}", "a and b"),
        ("${a || b}", "a or b"),
        ("${!a}", "not a"),
        ("${a and b}", "a and b"),
        ("${a or b}", "a or b"),
        ("${not a}", "not a"),
        ("${a && b && c}", "a and b and c"),
        ("${a || b && c}", "a or (b and c)"),
        ("${(a || b) && c}", "(a or b) and c"),
        ("${!a == b}", "(not a) == b"),
        ("${!(a == b)}", "not a == b"),
        ("${a + b}", "a + b"),
        ("${a - b}", "a - b"),
        ("${a * b}", "a * b"),
        ("${a / b}", "a / b"),
        ("${a % b}", "a % b"),
        ("${a div b}", "a / b"),
        ("${a mod b}", "a % b"),
        ("${a + b * c}", "a + b * c"),
        ("${(a + b) * c}", "(a + b) * c"),
        ("${a - (b - c)}", "a - (b - c)"),
        ("${-a}", "-a"),
        ("${-a.b + 1}", "-a.b + 1"),
        ("${- -a}", "--a"),
        ("${a < b < c}", "(a < b) < c"),
        ("${true}", "True"),
        ("${false}", "False"),
        ("${null}", "None"),
        ("${x == null}", "x == None"),
        ("${10}", "10"),
        ("${1.5}", "1.5"),
        ("${.5}", "0.5"),
        ("${2e3}", "2000.0"),
        ("${007}", "7"),
        ("${empty x}", "juel_empty(x)"),
        ("${not empty x}", "not juel_empty(x)"),
        ("${!empty order.items}", "not juel_empty(order.items)"),
        ("${empty x || y}", "juel_empty(x) or y"),
        ("${a ? b : c}", "b if a else c"),
        ("${a ? b : c ? d : e}", "b if a else d if c else e"),
        ("${(a ? b : c) == d}", "(b if a else c) == d"),
        ("${amount > 1000 ? 'big' : 'small'}", "'big' if amount > 1000 else 'small'"),
        ("${a.b}", "a.b"),
        ("${a.b.c.d}", "a.b.c.d"),
        ("${a['b']}", "a['b']"),
        ("${a[0]}", "a[0]"),
        ("${a.b[0].c['d']}", "a.b[0].c['d']"),
        ("${a[b.c]}", "a[b.c]"),
        ("${a.from}", "a['from']"),
        ("${task.empty}", "task.empty"),
        ("${x.size()}", "len(x)"),
        ("${x.length()}", "len(x)"),
        ("${x.isEmpty()}", "len(x) == 0"),
        ("${x.contains('a')}", "'a' in x"),
        ("${x.containsKey('a')}", "'a' in x"),
        ("${x.get('a')}", "x['a']"),
        ("${x.equals(y)}", "x == y"),
        ("${x.toString()}", "str(x)"),
        ("${x.startsWith('a')}", "x.startswith('a')"),
        ("${x.endsWith('a')}", "x.endswith('a')"),
        ("${x.toUpperCase()}", "x.upper()"),
        ("${x.toLowerCase()}", "x.lower()"),
        ("${x.trim()}", "x.strip()"),
        ("${x.custom(1, 'a')}", "x.custom(1, 'a')"),
        ("${x.get('a', 0)}", "x.get('a', 0)"),
        ("${mailer(to, 'subject')}", "mailer(to, 'subject')"),
        ("${execution.getVariable('amount') > 5}", "juel_scope.get('amount') > 5"),
        ('${execution.getVariable("amount")}', "juel_scope.get('amount')"),
        ("${execution.getVariable('items').size()}", "len(juel_scope.get('items'))"),
        ("${execution.processBusinessKey}", "business_key"),
        ("${execution.businessKey}", "business_key"),
        ("${execution.getProcessBusinessKey()}", "business_key"),
        ("${execution.processInstanceId}", "instance_id"),
        ("${execution.getProcessInstanceId()}", "instance_id"),
        ("#{amount > 1000}", "amount > 1000"),
        ("${ amount\n  > 1000 }", "amount > 1000"),
        ("\n  ${amount > 1000}\n", "amount > 1000"),
    ],
)
def test_translate__juel_operator(juel: str, python: str) -> None:
    assert translate(juel) == python


@pytest.mark.parametrize(
    ("juel", "python"),
    [
        ("${s == 'a && b'}", "s == 'a && b'"),
        ("${s == 'x || y or z and !w'}", "s == 'x || y or z and !w'"),
        ('${s == "not empty eq null"}', "s == 'not empty eq null'"),
        ("${s == '}'}", "s == '}'"),
        ("${s == '${x}'}", "s == '${x}'"),
        (r"${s == 'it\'s'}", 's == "it\'s"'),
        (r'${s == "say \"hi\""}', "s == 'say \"hi\"'"),
        (r"${s == 'back\\slash'}", r"s == 'back\\slash'"),
    ],
)
def test_translate__string_literal_keeps_operators_and_escapes(juel: str, python: str) -> None:
    assert translate(juel) == python


@pytest.mark.parametrize(
    ("juel", "python"),
    [
        ("${order > 1}", "order > 1"),
        ("${android && notes}", "android and notes"),
        ("${ordered || anderson}", "ordered or anderson"),
        ("${divisor div modulo}", "divisor / modulo"),
        ("${nothing eq nullable}", "nothing == nullable"),
        ("${empty_list}", "empty_list"),
        ("${truely ? falsey : lte}", "falsey if truely else lte"),
        ("${order.notes.android}", "order.notes.android"),
    ],
)
def test_translate__keywords_inside_identifiers_stay_names(juel: str, python: str) -> None:
    assert translate(juel) == python


@pytest.mark.parametrize(
    ("juel", "variables", "expected"),
    [
        ("${!a == b}", {"a": False, "b": True}, True),
        ("${a || b && c}", {"a": True, "b": False, "c": False}, True),
        ("${a - b - c}", {"a": 10, "b": 3, "c": 2}, 5),
        ("${a div b mod 4}", {"a": 9, "b": 2}, 0.5),
        ("${-a * 2}", {"a": 3}, -6),
        (
            "${empty a && empty b && empty c && !empty d}",
            {"a": None, "b": "", "c": {}, "d": [1]},
            True,
        ),
        ("${x ? 'y' : 'n'}", {"x": 0}, "n"),
    ],
)
def test_translate__keeps_juel_precedence_when_evaluated(
    juel: str, variables: dict[str, Any], expected: Any
) -> None:
    assert _run(translate(juel), **variables) == expected


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("user_${id}", "'user_' + juel_str(id)"),
        ("${first} ${last}", "juel_str(first) + ' ' + juel_str(last)"),
        ("${a}${b}", "juel_str(a) + juel_str(b)"),
        (
            "Order ${order.id} is ${order.state}!",
            "'Order ' + juel_str(order.id) + ' is ' + juel_str(order.state) + '!'",
        ),
    ],
)
def test_translate__mixed_text_builds_string(text: str, python: str) -> None:
    assert translate(text) == python


def test_translate__mixed_text_coerces_like_el() -> None:
    assert _run(translate("a_${x}_${y}_${z}"), x=None, y=True, z=3) == "a__true_3"


@pytest.mark.parametrize(
    "text",
    [
        "amount > 1000 and ok",
        "decision == 'approve'",
        "x['a'] if y else len(z)",
        "order.amount > 5",
        "[i for i in items if i]",
    ],
)
def test_translate__plain_python_unchanged(text: str) -> None:
    assert translate(text) == text


def test_translate__plain_python_surrounding_whitespace_stripped() -> None:
    assert translate("\n    amount > 1000\n  ") == "amount > 1000"


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("PT1H", "'PT1H'"),
        ("sales, leadership", "'sales, leadership'"),
        ("it's", '"it\'s"'),
        ("", "''"),
        ("amount > 1000", "'amount > 1000'"),
        ("${assignee}", "assignee"),
        ("  ${assignee}\n", "assignee"),
        ("${priority + 1}", "priority + 1"),
        ("user_${id}", "'user_' + juel_str(id)"),
        (" ${a} ", "a"),
        (r"cost: \${amount}", "'cost: ${amount}'"),
        (r"\#{x} ${y}", "'#{x} ' + juel_str(y)"),
    ],
)
def test_translate_value__contexts(text: str, python: str) -> None:
    assert translate_value(text) == python


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
        ("${class}", "Python keyword"),
        ("${a$b}", "not a valid Python name"),
        ("${execution.getVariables()}", "not supported"),
        ("${execution.setVariable('a', 1)}", "not supported"),
        ("${execution.id}", "not supported"),
        ("${execution}", "execution.getVariable"),
        ("${execution.getVariable(name)}", "string literal"),
        ("${execution['a']}", "execution.getVariable"),
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


def test_translate__result_always_parses() -> None:
    for text in ("${a ? b ? c : d : e}", "${-(-a) - -b}", "${!!a}", "${x.from.size()}"):
        ast.parse(translate(text), mode="eval")


def test_translate__cached() -> None:
    assert translate("${cached_amount > 1}") is translate("${cached_amount > 1}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("", True), ([], True), ({}, True), (set(), True), ((), True),
     (0, False), (False, False), ("a", False), ([0], False), ({"a": 1}, False)],
)  # fmt: skip
def test_juel_empty__follows_el(value: Any, expected: bool) -> None:
    assert expressions.juel_empty(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), (True, "true"), (False, "false"), (3, "3"), (1.5, "1.5"), ("x", "x")],
)
def test_juel_str__follows_el(value: Any, expected: str) -> None:
    assert expressions.juel_str(value) == expected


def test_runtime_helpers__names_are_public() -> None:
    assert set(expressions.RUNTIME_HELPERS) == {"juel_empty", "juel_str"}
    assert not any(name.startswith("_") for name in expressions.RUNTIME_HELPERS)
