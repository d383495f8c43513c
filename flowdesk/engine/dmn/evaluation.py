"""Evaluate a decision: its required decisions first, then its table (with its hit policy) or
literal expression, every text in the sandbox.

Results follow Camunda 7's DMN engine: a matched rule yields its non-empty output entries by
output name; a required decision's result becomes variables of the decisions that require it
(one matched rule: its outputs; COLLECT and RULE ORDER: a list per output); COLLECT with an
aggregator yields one entry under the output's name. PRIORITY and OUTPUT ORDER, which Camunda 7
does not implement, follow DMN 1.3: rules rank by the position of their output values in the
outputs' lists of output values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from flowdesk.engine.dmn import feel, functions, model, reader
from flowdesk.engine.languages import javascript, sandbox
from flowdesk.errors import DecisionError, ExpressionError

ResultKind = Literal["single", "list", "aggregate", "literal"]


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """What a decision produced: one output map per matched rule (Camunda's result list).

    `kind` says how to present it: "single" (at most one rule: UNIQUE, FIRST, PRIORITY, ANY),
    "list" (COLLECT, RULE ORDER, OUTPUT ORDER), "aggregate" (COLLECT with SUM, MIN, MAX or COUNT:
    at most one entry) or "literal" (a literal expression: one entry).
    """

    decision_id: str
    kind: ResultKind
    entries: list[dict[str, Any]]

    def value(self) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The result as `Engine.evaluate_decision` returns it: a list for list kinds, else the
        one output map (None when no rule matched)."""
        if self.kind == "list":
            return [dict(entry) for entry in self.entries]
        return dict(self.entries[0]) if self.entries else None


def evaluate(
    graph: model.DecisionGraph, decision_id: str, variables: Mapping[str, Any]
) -> DecisionResult:
    """Evaluate a decision of a file against variables, its required decisions first.

    Raises:
        DecisionError: A text fails, a value has the wrong type, or the hit policy is violated.
        KeyError: The file has no decision `decision_id`.
    """
    decision = graph.decisions[decision_id]
    context = dict(variables)
    for required in reader.requirement_order(graph, decision_id):
        add_to_variables(_evaluate_one(graph.decisions[required], context), context)
    return _evaluate_one(decision, context)


def add_to_variables(result: DecisionResult, variables: dict[str, Any]) -> None:
    """Publish a result as variables, as Camunda does for required decisions.

    One matched rule (or an aggregate or literal): each output under its name. Several rules,
    or a COLLECT/RULE ORDER/OUTPUT ORDER table: each output name with the list of its values.
    """
    if not result.entries:
        return
    if len(result.entries) == 1 and result.kind != "list":
        variables.update(
            (name, value) for name, value in result.entries[0].items() if name != model.UNNAMED
        )
        return
    names = dict.fromkeys(name for entry in result.entries for name in entry)
    # An unnamed output (Camunda: a variable named null) is not a variable anything can read.
    names.pop(model.UNNAMED, None)
    for name in names:
        variables[name] = [entry[name] for entry in result.entries if name in entry]


def to_json(value: Any) -> Any:
    """A FEEL value as a variable can hold it: dates become ISO text, tuples lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


# --- one decision -------------------------------------------------------------------------


def _evaluate_one(decision: model.Decision, variables: Mapping[str, Any]) -> DecisionResult:
    logic = decision.logic
    if isinstance(logic, model.LiteralDecision):
        value = _run(decision, logic.expression, variables, "literal expression")
        value = _convert(decision, value, logic.type_ref, logic.id)
        return DecisionResult(decision.id, "literal", [{logic.variable: to_json(value)}])
    return _evaluate_table(decision, logic, variables)


def _evaluate_table(
    decision: model.Decision, table: model.Table, variables: Mapping[str, Any]
) -> DecisionResult:
    values = []
    for column in table.inputs:
        value = _run(decision, column.expression, variables, f"input {column.label!r}")
        values.append(_convert(decision, value, column.type_ref, column.id))
    matched = [rule for rule in table.rules if _matches(decision, table, rule, values, variables)]
    outputs = [(rule, _outputs(decision, table, rule, variables)) for rule in matched]
    return _apply_hit_policy(decision, table, outputs)


def _matches(
    decision: model.Decision,
    table: model.Table,
    rule: model.Rule,
    values: list[Any],
    variables: Mapping[str, Any],
) -> bool:
    for column, test, value in zip(table.inputs, rule.tests, values, strict=True):
        if test.source == "True":
            continue
        scope = {**variables, column.variable: value}
        if test.language == "javascript":
            passed = _script(decision, test, scope, "input entry")
        elif test.language == "juel":
            # Camunda 7 (DecisionTableEvaluationHandler.isConditionApplicable): a non-FEEL
            # entry matches only when it gives `true`.
            passed = _sandboxed(decision, test, scope, "input entry")
        else:
            passed = _sandboxed(
                decision,
                test,
                {feel.VARIABLES: scope, feel.INPUT: value, **feel.HELPERS},
                "input entry",
            )
        if passed is not True:
            return False
    return True


def _outputs(
    decision: model.Decision, table: model.Table, rule: model.Rule, variables: Mapping[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for column, expression in zip(table.outputs, rule.outputs, strict=True):
        if expression is None:
            continue
        value = _run(decision, expression, variables, f"output entry of rule {rule.id!r}")
        result[column.name] = to_json(
            _convert(decision, value, column.type_ref, expression.element_id)
        )
    return result


def _run(
    decision: model.Decision,
    expression: model.Expression,
    variables: Mapping[str, Any],
    what: str,
) -> Any:
    if expression.language == "javascript":
        return _script(decision, expression, variables, what)
    if expression.language == "juel":
        return _sandboxed(decision, expression, variables, what)
    return feel_value(
        _sandboxed(decision, expression, {feel.VARIABLES: variables, **feel.HELPERS}, what)
    )


def feel_value(value: Any) -> Any:
    """A FEEL number as Camunda 7 hands it over: whole numbers are integers (`10 * 1.5` is 15).

    The FEEL Scala engine's value mapper turns a whole FEEL number into a Java Long and any
    other into a Double, so a typeRef `string` output of `10 * 1.5` is "15", not "15.0".
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [feel_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: feel_value(item) for key, item in value.items()}
    return value


def _script(
    decision: model.Decision,
    expression: model.Expression,
    variables: Mapping[str, Any],
    what: str,
) -> Any:
    """A JavaScript cell, run as Camunda's DMN engine runs scripts: variables only, no
    `execution`; the last value is the result."""
    try:
        return javascript.evaluate(expression.source, variables, element_id=expression.element_id)
    except ExpressionError as err:
        raise DecisionError(
            decision.id,
            f"{what} ({expression.text!r}): {err.reason}",
            element_id=expression.element_id,
        ) from err


def _sandboxed(
    decision: model.Decision,
    expression: model.Expression,
    context: Mapping[str, Any],
    what: str,
) -> Any:
    try:
        return sandbox.evaluate(expression.source, context, element_id=expression.element_id)
    except ExpressionError as err:
        cause = err.__cause__
        reason = str(cause) if isinstance(cause, functions.FeelError) else err.reason
        raise DecisionError(
            decision.id, f"{what} ({expression.text!r}): {reason}", element_id=expression.element_id
        ) from err


# --- hit policies -------------------------------------------------------------------------


def _apply_hit_policy(
    decision: model.Decision,
    table: model.Table,
    matched: list[tuple[model.Rule, dict[str, Any]]],
) -> DecisionResult:
    policy = table.hit_policy
    entries = [outputs for _, outputs in matched]
    ids = [rule.id for rule, _ in matched]
    if policy == "UNIQUE" and len(matched) > 1:
        raise DecisionError(
            decision.id,
            f"hit policy UNIQUE allows one matching rule, but {len(ids)} match: {ids}",
            element_id=ids[1],
        )
    if policy == "ANY" and any(entry != entries[0] for entry in entries[1:]):
        raise DecisionError(
            decision.id,
            f"hit policy ANY needs the matching rules to agree, but {ids} give different outputs",
            element_id=ids[1],
        )
    if policy in ("UNIQUE", "FIRST", "ANY"):
        return DecisionResult(decision.id, "single", entries[:1])
    if policy == "PRIORITY":
        ranked = _by_priority(decision, table, matched)
        return DecisionResult(decision.id, "single", ranked[:1])
    if policy == "OUTPUT ORDER":
        return DecisionResult(decision.id, "list", _by_priority(decision, table, matched))
    if table.aggregation is not None:
        return _aggregate(decision, table, matched)
    return DecisionResult(decision.id, "list", entries)


def _by_priority(
    decision: model.Decision,
    table: model.Table,
    matched: list[tuple[model.Rule, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Matched outputs, highest priority first; rule order breaks ties (sorting is stable)."""

    def rank(item: tuple[model.Rule, dict[str, Any]]) -> tuple[int, ...]:
        rule, outputs = item
        ranks = []
        for column in table.outputs:
            if not column.values:
                continue
            value = outputs.get(column.name)
            position = next(
                (i for i, listed in enumerate(column.values) if functions.equal(value, listed)),
                None,
            )
            if position is None:
                raise DecisionError(
                    decision.id,
                    f"rule {rule.id!r} gives output {column.name!r} a value that is not among "
                    "its output values, so it has no priority",
                    element_id=rule.id,
                )
            ranks.append(position)
        return tuple(ranks)

    return [outputs for _, outputs in sorted(matched, key=rank)]


def _aggregate(
    decision: model.Decision,
    table: model.Table,
    matched: list[tuple[model.Rule, dict[str, Any]]],
) -> DecisionResult:
    name = table.outputs[0].name
    values = [outputs[name] for _, outputs in matched if name in outputs]
    if table.aggregation == "COUNT":
        return DecisionResult(decision.id, "aggregate", [{name: len(values)}])
    for rule, outputs in matched:
        if name in outputs and not functions.is_number(outputs[name]):
            raise DecisionError(
                decision.id,
                f"COLLECT {table.aggregation} needs numbers, but rule {rule.id!r} gives "
                f"{name!r} a {functions.type_name(outputs[name])}",
                element_id=rule.id,
            )
    if not values:
        return DecisionResult(decision.id, "aggregate", [])
    if table.aggregation == "SUM":
        total: Any = sum(values)
    elif table.aggregation == "MIN":
        total = min(values)
    else:
        total = max(values)
    return DecisionResult(decision.id, "aggregate", [{name: total}])


# --- types --------------------------------------------------------------------------------


def _convert(
    decision: model.Decision, value: Any, type_ref: str | None, element_id: str | None
) -> Any:
    """Camunda's typeRef conversion of input and output values (null stays null)."""
    kind = (type_ref or "").strip().lower()
    if value is None or kind not in _CONVERTERS:
        return value
    try:
        return _CONVERTERS[kind](value)
    except (ValueError, TypeError, functions.FeelError):
        raise DecisionError(
            decision.id,
            f"a {functions.type_name(value)} cannot be converted to typeRef {type_ref!r}",
            element_id=element_id,
        ) from None


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        raise TypeError("not a string")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError("not an integer")


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError("not a number")


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TypeError("not a boolean")


_CONVERTERS = {
    "string": _to_string,
    "integer": _to_integer,
    "long": _to_integer,
    "double": _to_double,
    "boolean": _to_boolean,
    # Camunda's "date" is a java.util.Date: a date-time.
    "date": functions.parse_date_time,
}
