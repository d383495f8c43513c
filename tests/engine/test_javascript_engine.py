"""flowdesk.engine.languages.javascript: Camunda's script bindings, values as JSON, the limits."""

from __future__ import annotations

import time

import pytest

from flowdesk.engine.languages import javascript, limits
from flowdesk.engine.languages.limits import ScriptLimits
from flowdesk.engine.scripts import script_languages
from flowdesk.errors import ExpressionError, ScriptLimitError


def test_globals__builtins_and_execution_are_not_shadowed_by_variables():
    outcome = javascript.run(
        "[typeof Math.max, typeof execution.setVariable, execution.getVariable('Math'),"
        " execution.getVariable('order-no'), amount]",
        {"Math": 1, "execution": 2, "order-no": "A-1", "amount": 3},
    )

    assert outcome.value == ["function", "function", 1, "A-1", 3]


def test_execution__remove_variable_is_reported_and_reads_as_null_after():
    outcome = javascript.run(
        "execution.removeVariable('draft'); [execution.hasVariable('draft'), "
        "execution.getVariable('draft')]",
        {"draft": 1},
    )

    assert outcome.removed == ("draft",)
    assert outcome.value == [False, None]


def test_execution__local_names_are_what_get_variable_local_sees():
    facts = javascript.Execution(local_variable_names=frozenset({"limit"}))

    outcome = javascript.run(
        "[execution.getVariableLocal('limit'), execution.getVariableLocal('amount'),"
        " execution.hasVariableLocal('limit')]",
        {"limit": 5, "amount": 1},
        execution=facts,
    )

    assert outcome.value == [5, None, True]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NaN", "is NaN, which cannot be stored"),
        ("1 / 0", "is Infinity, which cannot be stored"),
        ("Symbol('s')", "is a symbol, which cannot be stored"),
        ("new Map()", "is an object of class Map, which cannot be stored"),
        ("(function () { var o = {}; o.self = o; return o; })()", "nests deeper than 32"),
        ("new Date('nonsense')", "is an invalid Date"),
    ],
)
def test_values__what_json_cannot_hold_is_refused_naming_the_variable(value, reason):
    with pytest.raises(ExpressionError) as caught:
        javascript.run(f"var x = 1;\nexecution.setVariable('v', {value});", {})

    assert f'variable "v" {reason}' in caught.value.reason or reason in caught.value.reason
    assert caught.value.reason.startswith("line 2: TypeError")


def test_values__boxed_primitives_and_small_bigints_become_plain_values():
    outcome = javascript.run("[new String('s'), new Number(2), 10n]", {})

    assert outcome.value == ["s", 2, 10]


def test_values__python_dates_arrive_as_iso_text():
    from datetime import UTC, datetime

    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    assert javascript.run("due", {"due": when}).value == "2026-03-02T09:00:00+00:00"


def test_errors__a_runtime_error_names_the_script_line():
    with pytest.raises(ExpressionError) as caught:
        javascript.run("var a = 1;\nvar b = 2;\nnull.x;", {})

    assert caught.value.reason == "line 3: TypeError: cannot read property 'x' of null"


def test_check__parses_without_running_and_reports_the_line():
    javascript.check("while (true) {}")  # parsed, never run: returns at once

    with pytest.raises(javascript.ScriptSyntaxError) as caught:
        javascript.check("var a = 1;\n\nvar b = ;")

    assert caught.value.line == 3


def test_limits__the_time_limit_comes_from_the_script_limits_in_force():
    started = time.monotonic()
    with (
        limits.using(ScriptLimits(cpu_seconds=0.1)),
        pytest.raises(ScriptLimitError) as caught,
    ):
        javascript.run("for (;;) {}", {})

    assert caught.value.kind == "time"
    assert "time limit of 0.1 s of CPU time" in caught.value.reason
    assert time.monotonic() - started < 2


def test_limits__deep_recursion_is_a_stack_overflow_not_a_crash():
    with pytest.raises(ExpressionError) as caught:
        javascript.run("function f(n) { return f(n + 1) + 1; } f(0)", {})

    assert "stack overflow" in caught.value.reason


def test_sandbox__nothing_of_one_script_is_seen_by_the_next():
    javascript.run("globalThis.leak = 1; Object.prototype.polluted = true;", {})

    assert javascript.run("[typeof leak, ({}).polluted]", {}).value == ["undefined", None]


def test_dmn_entry_point__has_no_execution_and_returns_the_value():
    assert javascript.evaluate("typeof execution", {}) == "undefined"
    assert javascript.evaluate("cellInput * 2", {"cellInput": 4}) == 8
    with pytest.raises(ExpressionError, match="condition script returns null"):
        javascript.boolean_result(javascript.evaluate("null", {}), "null")


@pytest.mark.parametrize(
    ("script_format", "language"),
    [
        ("javascript", "javascript"),
        ("JavaScript", "javascript"),
        ("ECMAScript", "javascript"),
        ("js", "javascript"),
        ("Graal.js", "javascript"),
        ("nashorn", "javascript"),
        ("", "python"),
        (None, "python"),
        ("Python", "python"),
        ("juel", "juel"),
        ("groovy", None),
        ("jython", None),
        ("typescript", None),
    ],
)
def test_language_of__follows_camunda_names(script_format, language):
    assert script_languages.language_of(script_format) == language


def test_unsupported_reason__says_what_runs_instead():
    reason = script_languages.unsupported_reason("xslt")

    assert reason == (
        "script format 'xslt' is not supported (XSLT is a JVM script language flowdesk cannot "
        "run); flowdesk runs javascript (also js, ecmascript), python (flowdesk's sandboxed "
        "Python), juel and feel"
    )


def test_task_listener__task_is_bound_instead_of_execution_and_setters_come_back():
    # The pattern of Camunda's invoice example: a create listener that assigns the approver.
    delegate = javascript.DelegateTask(
        id="t1", name="Approve", task_definition_key="approveInvoice", event_name="create",
        candidate_groups=("accounting",),
    )  # fmt: skip
    script = """
if (!!task.getVariable('approver')) {
  task.setAssignee(approver);
}
task.addCandidateGroup('management');
task.setDueDate(new Date(Date.UTC(2026, 2, 9)));
task.setVariable('seen', [typeof execution, task.getEventName(), task.getTaskDefinitionKey(),
                          task.getExecution().getProcessInstanceId()]);
"""

    outcome = javascript.run(
        script,
        {"approver": "demo"},
        execution=javascript.Execution(process_instance_id="i1"),
        task=delegate,
    )

    assert outcome.task_changes == {
        "assignee": "demo",
        "candidate_groups": ["accounting", "management"],
        "due_date": "2026-03-09T00:00:00.000Z",
    }
    assert outcome.variables == {"seen": ["undefined", "create", "approveInvoice", "i1"]}


def test_task_listener__reading_the_assignee_sees_what_the_script_set():
    outcome = javascript.run(
        "task.setAssignee('kermit'); task.setVariable('approver', task.getAssignee());",
        {},
        task=javascript.DelegateTask(assignee="fozzie"),
    )

    assert outcome.variables == {"approver": "kermit"}
    assert outcome.task_changes == {"assignee": "kermit"}
