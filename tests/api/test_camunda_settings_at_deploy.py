"""Camunda 7 settings flowdesk does not carry out are refused at deploy, or warned about.

A model must never run differently from Camunda 7 without saying so: a setting without which
it would take another path (or that Camunda refuses itself) is a `BpmnValidationError` naming
file, line and element; one it runs without, on the same path with the same variables, where
Camunda would still act on it, is an `IgnoredExtensionWarning`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import assert_refused_once

import flowdesk

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  <bpmn:message id="Msg_go" name="go" />
  <bpmn:process id="p" isExecutable="true" {process}>
    <bpmn:startEvent id="S" />
    {step}
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />
    <bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E">{condition}</bpmn:sequenceFlow>
  </bpmn:process>
  <bpmn:process id="other" isExecutable="true">
    <bpmn:startEvent id="S2" />
  </bpmn:process>
</bpmn:definitions>
"""


def model(step: str, *, process: str = "", condition: str = "") -> str:
    return HEAD.format(step=step, process=process, condition=condition)


REFUSED = {
    "none-intermediate-catch": (
        model('<bpmn:intermediateCatchEvent id="Step" />'),
        "Step",
        "has no event definition",
    ),
    "message-catch-without-ref": (
        model(
            '<bpmn:intermediateCatchEvent id="Step"><bpmn:messageEventDefinition />'
            "</bpmn:intermediateCatchEvent>"
        ),
        "Step",
        "has no messageRef",
    ),
    "case-call": (
        model('<bpmn:callActivity id="Step" camunda:caseRef="claim_case" />'),
        "Step",
        "CMMN case",
    ),
    "variable-mapping-class": (
        model(
            '<bpmn:callActivity id="Step" calledElement="other" '
            'camunda:variableMappingClass="org.example.Mapping" />'
        ),
        "Step",
        "camunda:variableMappingClass",
    ),
    "variable-mapping-delegate": (
        model(
            '<bpmn:callActivity id="Step" calledElement="other" '
            'camunda:variableMappingDelegateExpression="${mapping}" />'
        ),
        "Step",
        "camunda:variableMappingDelegateExpression",
    ),
    "version-tag-binding": (
        model(
            '<bpmn:callActivity id="Step" calledElement="other" '
            'camunda:calledElementBinding="versionTag" camunda:calledElementVersionTag="v1" />'
        ),
        "Step",
        "version tag",
    ),
    "mail-task": (
        model('<bpmn:serviceTask id="Step" camunda:type="mail" />'),
        "Step",
        "built-in mail task",
    ),
    "unknown-type": (
        model('<bpmn:sendTask id="Step" camunda:type="carrier-pigeon" />'),
        "Step",
        "accepts only 'external'",
    ),
    "job-priority-not-a-number": (
        model('<bpmn:task id="Step" camunda:jobPriority="high" />'),
        "Step",
        "camunda:jobPriority 'high'",
    ),
    "process-task-priority-not-a-number": (
        model('<bpmn:task id="Step" />', process='camunda:taskPriority="1.5"'),
        "p",
        "camunda:taskPriority '1.5'",
    ),
    "condition-from-a-resource": (
        model(
            '<bpmn:task id="Step" />',
            condition='<bpmn:conditionExpression language="groovy" '
            'camunda:resource="org/example/check.groovy" />',
        ),
        "F2",
        "external script resource",
    ),
}


@pytest.mark.parametrize(("text", "element_id", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_deploy__refuses_a_camunda_setting_flowdesk_cannot_run_naming_its_element(
    engine: flowdesk.Engine, tmp_path: Path, text: str, element_id: str, reason: str
) -> None:
    assert_refused_once(engine, text, tmp_path, element_id, reason)


WARNED = {
    "async-on-loop-characteristics": (
        '<bpmn:task id="Step"><bpmn:multiInstanceLoopCharacteristics camunda:asyncBefore="true">'
        "<bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
        "</bpmn:task>",
        "multi-instance loop characteristics",
    ),
    "async-gateway": (
        '<bpmn:exclusiveGateway id="Step" camunda:asyncBefore="true" />',
        "gateway 'Step' are ignored",
    ),
    "async-before-sub-process": (
        '<bpmn:subProcess id="Step" camunda:async="true"><bpmn:startEvent id="S3" />'
        '<bpmn:endEvent id="E3" /><bpmn:sequenceFlow id="F3" sourceRef="S3" targetRef="E3" />'
        "</bpmn:subProcess>",
        "asyncBefore of sub-process",
    ),
    "async-signal-throw": (
        '<bpmn:intermediateThrowEvent id="Step"><bpmn:signalEventDefinition '
        'signalRef="Sig" camunda:async="true" /></bpmn:intermediateThrowEvent>',
        "the signal reaches its catchers in the throwing call",
    ),
    "conditional-variable-filter": (
        '<bpmn:intermediateCatchEvent id="Step"><bpmn:conditionalEventDefinition '
        'camunda:variableName="ready"><bpmn:condition>${true}</bpmn:condition>'
        "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>",
        "camunda:variableName",
    ),
    "script-result-variable": (
        '<bpmn:scriptTask id="Step" scriptFormat="python" camunda:resultVariable="out">'
        "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>",
        "camunda:resultVariable of Python script task",
    ),
    "called-element-tenant": (
        '<bpmn:callActivity id="Step" calledElement="other" '
        'camunda:calledElementTenantId="tenant-a" />',
        "flowdesk has no tenants",
    ),
    "form-handler-class": (
        '<bpmn:userTask id="Step" camunda:formHandlerClass="org.example.Forms" />',
        "camunda:formHandlerClass",
    ),
    "camunda-form": (
        '<bpmn:userTask id="Step" camunda:formRef="invoice-form" '
        'camunda:formRefBinding="latest" />',
        "Camunda Forms",
    ),
}


@pytest.mark.parametrize(("step", "reason"), WARNED.values(), ids=WARNED.keys())
def test_deploy__warns_about_a_camunda_setting_it_accepts_and_does_not_carry_out(
    engine: flowdesk.Engine, tmp_path: Path, step: str, reason: str
) -> None:
    text = model(step).replace(
        '<bpmn:message id="Msg_go" name="go" />',
        '<bpmn:message id="Msg_go" name="go" /><bpmn:signal id="Sig" name="sig" />',
    )
    (tmp_path / "m.bpmn").write_text(text)

    with pytest.warns(flowdesk.IgnoredExtensionWarning) as caught:
        engine.deploy(tmp_path / "m.bpmn")

    (warning,) = [w.message for w in caught if reason in str(w.message)]
    assert isinstance(warning, flowdesk.IgnoredExtensionWarning)
    assert warning.problem.element_id == "Step"
    assert warning.problem.line is not None
    assert [d.key for d in engine.definitions()] == ["other", "p"]


@pytest.mark.parametrize(
    "attributes",
    [
        'camunda:jobPriority="10" camunda:exclusive="false"',
        'camunda:jobPriority="${priority}"',
    ],
)
def test_deploy__priorities_and_exclusive_deploy_without_a_warning(
    engine: flowdesk.Engine, tmp_path: Path, attributes: str
) -> None:
    text = model(
        f'<bpmn:task id="Step" {attributes} />',
        process='camunda:jobPriority="5" camunda:taskPriority="${p}"',
    )
    (tmp_path / "m.bpmn").write_text(text)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.deploy(tmp_path / "m.bpmn")

    assert engine.start("p").state == "completed"
