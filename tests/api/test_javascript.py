"""JavaScript in script tasks, flow conditions and `camunda:script` parameters, as in Camunda 7.

Camunda 7 runs `scriptFormat="javascript"` in GraalJS/Nashorn with the process variables as
globals and `execution` bound; only `execution.setVariable` writes variables
(`autoStoreScriptVariables` is off), and the script's last value goes to
`camunda:resultVariable`. These models are written after the behaviours Camunda's own
`ScriptTaskTest` asserts (process-variable visibility, `var` staying in the script, function
calls, result variables). Scripts are sandboxed: no host, a CPU-time and a memory limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import only_task

import flowdesk

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)


def write(tmp_path: Path, body: str, name: str = "js.bpmn") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + "</bpmn:definitions>\n", encoding="utf-8")
    return path


def script_process(script: str, *, script_format: str = "javascript", extra: str = "") -> str:
    """start -> script task -> user task "After" -> end."""
    return f"""  <bpmn:process id="js" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:scriptTask id="Calc" scriptFormat="{script_format}" {extra}>
      <bpmn:script><![CDATA[{script}]]></bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="After" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Calc" />
    <bpmn:sequenceFlow id="F2" sourceRef="Calc" targetRef="After" />
    <bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="E" />
  </bpmn:process>
"""


# --- script tasks ---------------------------------------------------------------------------


def test_script_task__set_variable_writes_and_var_stays_in_the_script(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    script = """
function total(items) {
  var sum = 0;
  for (var i = 0; i < items.length; i++) { sum += items[i].qty * items[i].price; }
  return sum;
}
var net = total(order.items);
execution.setVariable('net', net);
execution.setVariable('gross', Math.round(net * 1.2 * 100) / 100);
execution.setVariable('skus', order.items.map(function (x) { return x.sku; }));
execution.setVariable('rush', order.items.length > 1 && customer === 'ACME');
"""
    engine.deploy(write(tmp_path, script_process(script)))
    order = {"items": [{"sku": "A", "qty": 2, "price": 10}, {"sku": "B", "qty": 1, "price": 5.5}]}

    instance = engine.start("js", variables={"order": order, "customer": "ACME"})

    assert instance.state == "running"
    variables = engine.instance(instance.id).variables
    assert variables["net"] == 25.5
    assert variables["gross"] == 30.6
    assert variables["skus"] == ["A", "B"]
    assert variables["rush"] is True
    # Camunda's testJsVariable: a script's own `var` is not a process variable.
    assert "total" not in variables and "sum" not in variables


def test_script_task__script_var_shadows_without_changing_the_process_variable(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda's testJavascriptProcessVarVisibility, as a model of our own.
    script = """
execution.setVariable('foo', 'a');
if (typeof foo !== 'undefined') { throw 'foo must be hoisted as a script variable'; }
var foo = 'b';
if (execution.getVariable('foo') != 'a') { throw 'execution must keep foo'; }
if (foo != 'b') { throw 'the script variable must win'; }
"""
    engine.deploy(write(tmp_path, script_process(script)))

    instance = engine.start("js")

    assert instance.state == "running"
    assert engine.instance(instance.id).variables == {"foo": "a"}


def test_script_task__last_value_goes_to_the_result_variable_and_execution_knows_its_ids(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    script = """
var ids = [execution.getProcessInstanceId(), execution.getBusinessKey(),
           execution.getProcessBusinessKey(), execution.getCurrentActivityId(),
           execution.getProcessDefinitionId()];
execution.setVariable('ids', ids);
execution.setVariable('known', [execution.hasVariable('amount'), execution.hasVariable('nope')]);
amount * 2
"""
    engine.deploy(write(tmp_path, script_process(script, extra='camunda:resultVariable="doubled"')))

    instance = engine.start("js", business_key="ORDER-7", variables={"amount": 21})

    variables = engine.instance(instance.id).variables
    assert variables["doubled"] == 42
    instance_id, key, process_key, activity, definition = variables["ids"]
    assert (instance_id, key, process_key, activity) == (instance.id, "ORDER-7", "ORDER-7", "Calc")
    assert definition.startswith("js:1:")
    assert variables["known"] == [True, False]


def test_script_task__null_result_sets_no_result_variable(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(
        write(tmp_path, script_process("var x = 1; undefined", extra='camunda:resultVariable="r"'))
    )

    instance = engine.start("js")

    assert "r" not in engine.instance(instance.id).variables


@pytest.mark.parametrize("script_format", ["JavaScript", "Javascript", "ecmascript", "js"])
def test_script_task__every_name_camunda_resolves_to_javascript_runs_it(
    engine: flowdesk.Engine, tmp_path: Path, script_format: str
) -> None:
    script = "execution.setVariable('kind', typeof [].map)"
    engine.deploy(write(tmp_path, script_process(script, script_format=script_format)))

    instance = engine.start("js")

    assert engine.instance(instance.id).variables == {"kind": "function"}


def test_script_task__values_cross_as_json_and_dates_as_iso_text(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    script = """
execution.setVariable('when', new Date(Date.UTC(2026, 0, 31, 12, 30)));
execution.setVariable('types', [typeof count, typeof ratio, typeof flag, typeof nothing,
                                Array.isArray(tags), typeof nested.deep.value]);
execution.setVariable('whole', 3.0);
execution.setVariable('cleared', undefined);
"""
    engine.deploy(write(tmp_path, script_process(script)))

    instance = engine.start(
        "js",
        variables={
            "count": 3,
            "ratio": 0.5,
            "flag": False,
            "nothing": None,
            "tags": ["a"],
            "nested": {"deep": {"value": "x"}},
        },
    )

    variables = engine.instance(instance.id).variables
    assert variables["when"] == "2026-01-31T12:30:00.000Z"
    assert variables["types"] == ["number", "number", "boolean", "object", True, "string"]
    assert variables["whole"] == 3 and isinstance(variables["whole"], int)
    assert variables["cleared"] is None


def test_script_task__date_and_bytes_variables_arrive_as_iso_and_base64_text(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    script = "execution.setVariable('seen', [due, day, scan]);"
    engine.deploy(write(tmp_path, script_process(script)))

    instance = engine.start(
        "js",
        variables={
            "due": datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8))),
            "day": date(2026, 3, 2),
            "scan": b"\x00\xff",
        },
    )

    assert engine.instance(instance.id).state == "running"
    assert engine.instance(instance.id).variables["seen"] == [
        "2026-03-02T09:30:00+08:00",
        "2026-03-02",
        "AP8=",
    ]


def test_script_task__a_function_as_a_variable_value_is_an_incident_naming_it(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(write(tmp_path, script_process("execution.setVariable('f', function () {});")))

    instance = engine.start("js")

    assert instance.state == "incident"
    assert instance.incident is not None
    assert 'variable "f" is a function, which cannot be stored' in instance.incident


def test_script_task__set_variable_local_ends_with_the_activity(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    script = """
execution.setVariableLocal('scratch', 1);
execution.setVariable('kept', execution.getVariableLocal('scratch') + 1);
"""
    engine.deploy(write(tmp_path, script_process(script)))

    instance = engine.start("js")

    assert engine.instance(instance.id).variables == {"kept": 2}


def test_script_task__runs_the_same_after_the_engine_is_recreated(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    body = """  <bpmn:process id="js" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:userTask id="Enter" />
    <bpmn:scriptTask id="Calc" scriptFormat="javascript" camunda:resultVariable="summary">
      <bpmn:script>execution.setVariable('count', count + 1); label + ':' + count</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="After" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Enter" />
    <bpmn:sequenceFlow id="F2" sourceRef="Enter" targetRef="Calc" />
    <bpmn:sequenceFlow id="F3" sourceRef="Calc" targetRef="After" />
    <bpmn:sequenceFlow id="F4" sourceRef="After" targetRef="E" />
  </bpmn:process>
"""
    first = make_engine()
    first.deploy(write(tmp_path, body))
    instance = first.start("js", variables={"count": 1})

    second = make_engine()
    second.complete(only_task(second, instance.id).id, {"label": "n"})

    variables = second.instance(instance.id).variables
    assert variables == {"count": 2, "label": "n", "summary": "n:1"}
    assert only_task(second, instance.id).element_id == "After"


# --- conditions -----------------------------------------------------------------------------


def gateway_process(condition: str, language: str = "javascript") -> str:
    return f"""  <bpmn:process id="route" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:exclusiveGateway id="Big" default="Small" />
    <bpmn:userTask id="Review" />
    <bpmn:userTask id="Auto" />
    <bpmn:endEvent id="E1" />
    <bpmn:endEvent id="E2" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Big" />
    <bpmn:sequenceFlow id="Large" sourceRef="Big" targetRef="Review">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="{language}"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><![CDATA[{condition}]]></bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Small" sourceRef="Big" targetRef="Auto" />
    <bpmn:sequenceFlow id="F4" sourceRef="Review" targetRef="E1" />
    <bpmn:sequenceFlow id="F5" sourceRef="Auto" targetRef="E2" />
  </bpmn:process>
"""


@pytest.mark.parametrize(("amount", "taken"), [(5000, "Review"), (20, "Auto")])
def test_condition__javascript_chooses_the_path(
    engine: flowdesk.Engine, tmp_path: Path, amount: int, taken: str
) -> None:
    condition = "amount > 1000 && customer.tier !== 'gold'"
    engine.deploy(write(tmp_path, gateway_process(condition)))

    instance = engine.start("route", variables={"amount": amount, "customer": {"tier": "std"}})

    assert only_task(engine, instance.id).element_id == taken


def test_condition__a_non_boolean_result_is_an_incident_as_in_camunda(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    engine.deploy(write(tmp_path, gateway_process("amount")))

    instance = engine.start("route", variables={"amount": 5})

    assert instance.incident is not None
    assert "condition script returns a non-boolean" in instance.incident
    assert engine.tasks(instance_id=instance.id) == []


def test_condition__javascript_on_an_inclusive_gateway_takes_every_true_flow(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    body = """  <bpmn:process id="split" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:inclusiveGateway id="Fork" />
    <bpmn:userTask id="Legal" />
    <bpmn:userTask id="Finance" />
    <bpmn:userTask id="Sales" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Fork" />
    <bpmn:sequenceFlow id="ToLegal" sourceRef="Fork" targetRef="Legal">
      <bpmn:conditionExpression language="javascript">contract.risky</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="ToFinance" sourceRef="Fork" targetRef="Finance">
      <bpmn:conditionExpression language="javascript"
        >contract.value &gt; 10000</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="ToSales" sourceRef="Fork" targetRef="Sales">
      <bpmn:conditionExpression language="javascript"
        >contract.value &lt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
"""
    engine.deploy(write(tmp_path, body))

    instance = engine.start("split", variables={"contract": {"risky": True, "value": 50000}})

    assert sorted(t.element_id for t in engine.tasks(instance_id=instance.id)) == [
        "Finance",
        "Legal",
    ]


# --- camunda:script parameters --------------------------------------------------------------


def test_parameters__javascript_input_and_output_values_are_the_script_results(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    body = """  <bpmn:process id="params" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:scriptTask id="Use" scriptFormat="javascript">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="limit">
            <camunda:script scriptFormat="javascript">base * 3</camunda:script>
          </camunda:inputParameter>
          <camunda:inputParameter name="defaultScore">
            <camunda:script scriptFormat="javascript"
              >execution.setVariable("defaultScore", 5);</camunda:script>
          </camunda:inputParameter>
          <camunda:outputParameter name="report">
            <camunda:script scriptFormat="javascript"
              >'limit ' + limit + ', local ' + defaultScore</camunda:script>
          </camunda:outputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
      <bpmn:script>execution.setVariable('seen', limit);</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="After" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Use" />
    <bpmn:sequenceFlow id="F2" sourceRef="Use" targetRef="After" />
    <bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="E" />
  </bpmn:process>
"""
    engine.deploy(write(tmp_path, body))

    instance = engine.start("params", variables={"base": 4})

    # `limit` is local to the task; the setVariable in the input script wrote the enclosing
    # scope while the local `defaultScore` got the script's value, null (as in Camunda).
    assert engine.instance(instance.id).variables == {
        "base": 4,
        "seen": 12,
        "defaultScore": 5,
        "report": "limit 12, local null",
    }


# --- the sandbox and its limits -------------------------------------------------------------


def test_limits__a_runaway_script_becomes_an_incident_within_the_time_limit(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    engine = make_engine(script_limits=flowdesk.ScriptLimits(cpu_seconds=0.5))
    engine.deploy(write(tmp_path, script_process("while (true) {}")))

    started = time.monotonic()
    instance = engine.start("js")
    elapsed = time.monotonic() - started

    assert instance.state == "incident"
    assert instance.incident is not None
    assert "time limit of 0.5 s of CPU time" in instance.incident
    # CPU time, so on a busy machine the wall clock may run a little longer.
    assert elapsed < 0.5 * 8
    assert engine.tasks(instance_id=instance.id) == []


def test_limits__a_memory_hog_becomes_an_incident(engine: flowdesk.Engine, tmp_path: Path) -> None:
    hog = "var a = []; while (true) { a.push('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + a.length); }"
    engine.deploy(write(tmp_path, script_process(hog)))

    instance = engine.start("js")

    assert instance.incident is not None
    assert "memory limit" in instance.incident


@pytest.mark.parametrize(
    ("script", "missing"),
    [
        ("require('fs').readFileSync('/etc/passwd')", "require is not defined"),
        ("process.exit(1)", "process is not defined"),
        ("load('/tmp/x.js')", "load is not defined"),
        ("Java.type('java.lang.System')", "Java is not defined"),
        ("import('os')", "Promise, which cannot be stored"),
    ],
)
def test_sandbox__reaching_for_the_host_fails(
    engine: flowdesk.Engine, tmp_path: Path, script: str, missing: str
) -> None:
    engine.deploy(write(tmp_path, script_process(script)))

    instance = engine.start("js")

    assert instance.incident is not None
    assert missing in instance.incident


# --- deploy ---------------------------------------------------------------------------------


def test_deploy__javascript_syntax_error_is_refused_with_file_line_and_element(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, script_process("var a = 1;\nvar b = ;"), name="broken.bpmn")
    script_line = path.read_text().splitlines().index("var b = ;]]></bpmn:script>") + 1

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(path)

    (problem,) = caught.value.problems
    assert problem.element_id == "Calc"
    assert problem.file.endswith("broken.bpmn")
    assert problem.line == script_line
    assert "is not valid JavaScript: line 2: SyntaxError" in problem.message
    assert engine.definitions() == []


def test_deploy__an_import_statement_is_refused(engine: flowdesk.Engine, tmp_path: Path) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(write(tmp_path, script_process("import fs from 'fs';")))

    assert "not valid JavaScript" in caught.value.problems[0].message


def test_deploy__groovy_is_refused_naming_the_language(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(write(tmp_path, script_process("println 'hi'", script_format="groovy")))

    (problem,) = caught.value.problems
    assert problem.element_id == "Calc"
    assert "Groovy is a JVM script language flowdesk cannot run" in problem.message
    assert "flowdesk runs javascript" in problem.message
    assert engine.definitions() == []


def test_deploy__a_javascript_condition_syntax_error_is_refused(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(write(tmp_path, gateway_process("amount >")))

    (problem,) = caught.value.problems
    assert problem.element_id == "Large"
    assert "not valid JavaScript" in problem.message
