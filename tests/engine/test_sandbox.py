"""The RestrictedPython sandbox: evaluation, scripts, refusals, and SpiffWorkflow integration."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages import sandbox
from flowdesk.engine.languages.sandbox import SandboxEnvironment, evaluate, evaluate_value
from flowdesk.errors import BpmnError, ExpressionError


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("${amount > 1000}", {"amount": 5000}, True),
        ("${amount > 1000}", {"amount": 1000}, False),
        ("${amount <= 1000}", {"amount": 1000}, True),
        ("${decision == 'approve' && amount lt 10}", {"decision": "approve", "amount": 3}, True),
        ("${empty reviewers}", {"reviewers": []}, True),
        ("${not empty reviewers}", {"reviewers": ["bob"]}, True),
        ("${reviewers.size() == 2}", {"reviewers": ["a", "b"]}, True),
        ("${x == null}", {"x": None}, True),
        ("${amount > 1000 ? 'board' : 'manager'}", {"amount": 5}, "manager"),
        ("${execution.getVariable('amount') * 2}", {"amount": 4}, 8),
        ("${execution.getVariable('unset') == null}", {}, True),  # Camunda: null, not an error
        ("${execution.processBusinessKey}", {"business_key": "SO-1"}, "SO-1"),
        ("amount > 1000 and approved", {"amount": 5000, "approved": True}, True),
        ("len([i for i in items if i > 1])", {"items": [1, 2, 3]}, 2),
        ("sorted(items, reverse=True)[0]", {"items": [1, 3, 2]}, 3),
        ("f'{name}-{n:03d}'", {"name": "x", "n": 7}, "x-007"),
        ("timedelta(days=days).days", {"days": 2}, 2),
        ("max(zip(a, b))", {"a": [1, 2], "b": [3, 4]}, (2, 4)),
    ],
)
def test_evaluate__condition_with_variables(
    expression: str, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(expression, variables) == expected


def test_evaluate__dict_attribute_access() -> None:
    variables = {"order": {"amount": 1500, "customer": {"name": "ACME"}, "items": [1, 2]}}
    assert evaluate("${order.amount > 1000}", variables) is True
    assert evaluate("${order.customer.name}", variables) == "ACME"
    # JUEL reads a map's entry before any method of the same name.
    assert evaluate("${order.items.size()}", variables) == 2


def test_evaluate__dict_methods_still_reachable() -> None:
    assert evaluate("sorted(order.keys())", {"order": {"b": 1, "a": 2}}) == ["a", "b"]


def test_evaluate__missing_dict_key__null_in_juel_error_in_python() -> None:
    # EL 2.2 section 1.6: a map without the key gives null. Plain Python still raises.
    assert evaluate("${order.amount}", {"order": {}}) is None
    with pytest.raises(ExpressionError, match="no key or attribute 'amount'"):
        evaluate("order.amount", {"order": {}})


def test_evaluate__does_not_mutate_variables() -> None:
    variables = {"amount": 1}
    evaluate("${amount > 0}", variables)
    assert variables == {"amount": 1}


def test_evaluate__unknown_variable__expression_error_names_it() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("${amount > 1000}", {}, element_id="gw_amount")
    assert caught.value.reason == "unknown variable 'amount'"
    assert caught.value.expression == "${amount > 1000}"
    assert caught.value.element_id == "gw_amount"
    assert isinstance(caught.value.__cause__, NameError)


def test_evaluate__runtime_error__expression_error_keeps_cause() -> None:
    with pytest.raises(ExpressionError, match="ZeroDivisionError") as caught:
        evaluate("a / b", {"a": 1, "b": 0})
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_evaluate__translation_error__expression_error() -> None:
    with pytest.raises(ExpressionError, match="unexpected end of expression"):
        evaluate("${amount >}", {"amount": 1})


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os')", '"__import__" is an invalid variable name'),
        ("open('/etc/hostname')", "'open' is not available"),
        ("(1).__class__.__mro__", '"__class__" is an invalid attribute name'),
        ("().__class__.__bases__[0].__subclasses__()", '"__subclasses__" is an invalid'),
        ("getattr(x, '__class__')", "'getattr' is not available"),
        ("eval('1')", "Eval calls are not allowed"),
        ("exec('x = 1')", "Exec calls are not allowed"),
        ("compile('1', 'f', 'eval')", "'compile' is not available"),
        ("globals()", "'globals' is not available"),
        ("vars()", "'vars' is not available"),
        ("type(x)", "'type' is not available"),
        ("input()", "'input' is not available"),
        ("breakpoint()", '"breakpoint" is a reserved name'),
        ("'{0.__class__}'.format(x)", "str.format() is not allowed"),
        ("'{x}'.format_map({'x': 1})", "str.format_map() is not allowed"),
        ("(i for i in []).gi_frame", '"gi_frame" is a restricted name'),
        ("x.__dict__", "invalid attribute name"),
    ],
)
def test_evaluate__forbidden__expression_error(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, {"x": 1})
    assert reason in caught.value.reason
    assert not isinstance(caught.value, SyntaxError)


class _Bean:
    def greet(self, name: str) -> str:
        return f"hi {name}"

    def _secret(self) -> str:
        return "secret"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("${x.__class__}", "property '__class__' not found"),
        ("${bean.__class__}", "attribute '__class__' is not allowed"),
        ("${__builtins__}", "reserved by the sandbox"),
        ("${_getattr_(x, 'y')}", "reserved by the sandbox"),
        ("${juel_scope['__builtins__']}", "reserved by the sandbox"),
        ("${bean['__class__']}", "attribute '__class__' is not allowed"),
        ("${bean._secret()}", "attribute '_secret' is not allowed"),
        ("${bean['_secret']}", "attribute '_secret' is not allowed"),
        ("${bean.greet.__globals__}", "property 'greet' not found"),
        ("${bean.greet['__globals__']}", "property 'greet' not found"),
        ("${now['__globals__']}", "not allowed"),
        ("${dateTime()['_value']}", "not allowed"),
        ("${execution['_variables']}", "not allowed"),
        ("${execution.getVariable('x')['__class__']}", "not found"),
        ("${'{0.__class__}'.format(x)}", "not found on String"),
        ("${S(x)['_value']}", "not allowed"),
        ("${(i for i in x)}", "expected ')'"),
        ("${x.gi_frame}", "not found"),
        ("${bean['gi_frame']}", "is not allowed"),
    ],
)
def test_evaluate__juel_cannot_escape(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, {"x": 1}, beans={"bean": _Bean()})
    assert reason in caught.value.reason


def test_evaluate__juel_calls_public_bean_methods() -> None:
    assert evaluate("${bean.greet(x)}", {"x": "ann"}, beans={"bean": _Bean()}) == "hi ann"


def test_evaluate__getattr_guard_refuses_underscore_names() -> None:
    # The compiler already refuses `x._y`; the guard is the second line if code reaches it.
    guard = sandbox._RESERVED_GLOBALS["_getattr_"]
    with pytest.raises(sandbox._SandboxViolation):
        guard(1, "__class__")
    with pytest.raises(sandbox._SandboxViolation):
        guard({"_private": 1}, "_private")


def test_evaluate__task_data_cannot_replace_guards_or_helpers() -> None:
    variables: dict[str, Any] = {"_getattr_": None, "juel_empty": None, "x": [], "d": {"a": 1}}
    assert evaluate("${empty x && d.a == 1}", variables) is True


def test_evaluate_value__literal_expression_and_mixed() -> None:
    variables = {"owner": "alice", "id": 7, "priority": 3, "missing": None}
    assert evaluate_value("sales, leadership", variables) == "sales, leadership"
    assert evaluate_value("${owner}", variables) == "alice"
    assert evaluate_value("${priority + 1}", variables) == 4
    assert evaluate_value("user_${id}", variables) == "user_7"
    assert evaluate_value("x${missing}y", variables) == "xy"


def test_evaluate_value__unknown_variable__expression_error() -> None:
    with pytest.raises(ExpressionError, match="unknown variable 'owner'"):
        evaluate_value("${owner}", {}, element_id="review")


def test_environment_evaluate__external_context_below_task_data() -> None:
    env = SandboxEnvironment()
    assert env.evaluate("${a + b}", {"a": 1}, {"a": 100, "b": 2}) == 3


def test_environment_evaluate__extra_globals_usable() -> None:
    env = SandboxEnvironment({"double": lambda value: value * 2})
    assert env.evaluate("${double(x)}", {"x": 4}) == 8


def test_environment__extra_globals_reserved_name__value_error() -> None:
    with pytest.raises(ValueError, match="juel_empty"):
        SandboxEnvironment({"juel_empty": len})


def test_environment_evaluate__non_text__expression_error() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        SandboxEnvironment().evaluate(None, {})  # type: ignore[arg-type]


def test_environment_evaluate__flowdesk_errors_from_callables_pass_through() -> None:
    def fail(code: str) -> None:
        raise BpmnError(code)

    with pytest.raises(BpmnError, match="rejected"):
        SandboxEnvironment().evaluate("${fail('rejected')}", {}, {"fail": fail})


SCRIPT = """
total = 0
for i, item in enumerate(items):
    total += item
doubled = [item * 2 for item in items]
summary = {'count': len(items), 'total': total}
summary['first'] = items[0]
a, b = items[:2]
def label(value):
    return f'#{value}'
name = label(total)
print('ignored')
when = date(2024, 1, 31)
items.append(99)
"""


def test_execute__mutates_variables_and_leaves_only_data() -> None:
    context: dict[str, Any] = {"items": [1, 2, 3]}
    assert SandboxEnvironment().execute(SCRIPT, context) is True
    assert context == {
        "items": [1, 2, 3, 99],
        "total": 6,
        "i": 2,
        "item": 3,
        "doubled": [2, 4, 6],
        "summary": {"count": 3, "total": 6, "first": 1},
        "a": 1,
        "b": 2,
        "name": "#6",
        "when": datetime.date(2024, 1, 31),
    }


def test_execute__removes_functions_modules_and_injected_names() -> None:
    context: dict[str, Any] = {}
    env = SandboxEnvironment({"helper": len, "RATE": 0.5})
    env.execute("x = helper([1]) * RATE\nf = len\ng = lambda: 1", context, {"bean": "v"})
    assert context == {"x": 0.5}
    assert "__builtins__" not in context


def test_execute__indented_script_from_xml() -> None:
    context: dict[str, Any] = {}
    SandboxEnvironment().execute("\n        a = 1\n        if a:\n            b = 2\n    ", context)
    assert context == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("import os", "imports are not allowed"),
        ("from os import path", "imports are not allowed"),
        ("x = __import__('os')", "invalid variable name"),
        ("x = open('/etc/hostname').read()", "'open' is not available"),
        ("x = (1).__class__", "invalid attribute name"),
        ("d = date(2020, 1, 1)\nd.year = 3", "TypeError"),
        ("return 1", "does not compile"),
        ("x = (", "SyntaxError"),
        ("x = 1\ny = nothing + 1", "line 2: unknown variable 'nothing'"),
        ("x = [1][5]", "line 1: IndexError"),
    ],
)
def test_execute__refused_or_failing__expression_error(script: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        SandboxEnvironment().execute(script, {})
    assert reason in caught.value.reason
    assert caught.value.expression == script


def test_execute__failure_still_cleans_context() -> None:
    context: dict[str, Any] = {}
    with pytest.raises(ExpressionError):
        SandboxEnvironment().execute("a = 1\nf = len\nraise ValueError('boom')", context)
    assert context == {"a": 1}


def test_execute__task_data_uses_reserved_name__expression_error() -> None:
    context: dict[str, Any] = {"juel_str": "mine"}
    with pytest.raises(ExpressionError, match="reserves"):
        SandboxEnvironment().execute("x = 1", context)
    assert context == {"juel_str": "mine"}


def test_call_service__not_implemented() -> None:
    with pytest.raises(NotImplementedError):
        SandboxEnvironment().call_service({}, operation_name="x")


def test_reserved_names__guards_helpers_and_builtins() -> None:
    assert {"__builtins__", "_getattr_", "_getitem_", "_write_", "juel_empty", "juel_str"} <= (
        sandbox.RESERVED_NAMES
    )
    builtins = sandbox._BUILTINS
    for name in ("__import__", "open", "eval", "exec", "compile", "globals", "getattr", "vars",
                 "type", "input", "breakpoint", "locals", "dir"):  # fmt: skip
        assert name not in builtins
    for name in ("len", "sorted", "zip", "reversed", "datetime", "date", "timedelta", "range"):
        assert name in builtins


APPROVAL_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="gw_amount" />
    <bpmn:exclusiveGateway id="gw_amount">
      <bpmn:incoming>f_start</bpmn:incoming>
      <bpmn:outgoing>f_big</bpmn:outgoing>
      <bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_big" sourceRef="gw_amount" targetRef="big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        ${amount &gt; 1000}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw_amount" targetRef="small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        ${amount &lt;= 1000}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="big" scriptFormat="python">
      <bpmn:incoming>f_big</bpmn:incoming>
      <bpmn:outgoing>f_big_end</bpmn:outgoing>
      <bpmn:script>route = 'board'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="small" scriptFormat="python">
      <bpmn:incoming>f_small</bpmn:incoming>
      <bpmn:outgoing>f_small_end</bpmn:outgoing>
      <bpmn:script>route = 'manager'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_big_end" sourceRef="big" targetRef="end" />
    <bpmn:sequenceFlow id="f_small_end" sourceRef="small" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:incoming>f_big_end</bpmn:incoming>
      <bpmn:incoming>f_small_end</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _run_approval(data: dict[str, Any]) -> BpmnWorkflow:
    parser = CamundaParser()
    parser.add_bpmn_str(APPROVAL_BPMN.encode())
    engine = PythonScriptEngine(environment=SandboxEnvironment())
    workflow = BpmnWorkflow(parser.get_spec("approval"), script_engine=engine)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize(("amount", "route"), [(5000, "board"), (1000, "manager"), (10, "manager")])
def test_spiff_workflow__juel_gateway_takes_right_branch(amount: int, route: str) -> None:
    workflow = _run_approval({"amount": amount})
    assert workflow.is_completed()
    assert workflow.data == {"amount": amount, "route": route}
    completed = {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert ("big" in completed) is (route == "board")


def test_spiff_workflow__expression_error_is_context_of_spiff_error() -> None:
    # Spiff 3.2 wraps the error in WorkflowTaskException without keeping it as an attribute;
    # the ExpressionError is only on __context__, where the engine has to look for it.
    with pytest.raises(Exception) as caught:
        _run_approval({})
    assert not isinstance(caught.value, ExpressionError)
    assert isinstance(caught.value.__context__, ExpressionError)
    assert caught.value.__context__.reason == "unknown variable 'amount'"


class _DelegateTask:
    """Stands for the `task` object a task listener passes (a getter makes an EL property)."""

    def getAssignee(self) -> str:
        return "ann"


def test_script_engine_evaluate__beans_execution_and_more_context_objects() -> None:
    from flowdesk.engine.spiff.script_engine import CallScope, FlowdeskScriptEngine
    from flowdesk.handlers import HandlerRegistry

    registry = HandlerRegistry()
    registry.register_bean("bean", _Bean())
    engine = FlowdeskScriptEngine(registry, CallScope("inst-1", "approval", "BK-1"))
    parser = CamundaParser()
    parser.add_bpmn_str(APPROVAL_BPMN.encode())
    workflow = BpmnWorkflow(parser.get_spec("approval"), script_engine=engine)
    task = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "start")
    task.data.update({"amount": 5})

    text = "${bean.greet(task.assignee)} ${execution.businessKey} ${execution.currentActivityId}"
    value = engine.evaluate(task, text, objects={"task": _DelegateTask()})
    assert value == "hi ann BK-1 start"

    engine.evaluate(task, "${execution.setVariable('seen', amount + 1)}")
    assert task.data["seen"] == 6
