"""What Camunda 7's `BpmnParse` refuses (from `parseSendTask` on) is refused by flowdesk too.

A model Camunda refuses never runs there; flowdesk refuses it with Camunda's reason, naming
file, line and element, and stores nothing (docs/camunda-refusals.md). The constructs these
refusals guard are run as Camunda runs them: a message throw event with an implementation is
a service task, BPMN's `humanPerformer` and `potentialOwner` assign user tasks, candidate lists
are evaluated item by item, and `camunda:field` values are read as `parseFieldDeclaration`
reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flowdesk
from tests.api.conftest import assert_refused_once, open_tasks

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="t">
  <bpmn:message id="Msg_go" name="go" />
  <bpmn:error id="Err_no_code" name="no code" />
  <bpmn:escalation id="Esc_no_code" name="no code" />
  <bpmn:escalation id="Esc_late" name="late" escalationCode="LATE" />
  {definitions}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />
    {step}
    <bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E" />
    <bpmn:endEvent id="E" />
    {more}
  </bpmn:process>
</bpmn:definitions>
"""


def model(step: str, more: str = "", definitions: str = "") -> str:
    return HEAD.format(step=step, more=more, definitions=definitions)


def performer(text: str) -> str:
    return (
        "<bpmn:humanPerformer><bpmn:resourceAssignmentExpression><bpmn:formalExpression>"
        f"{text}</bpmn:formalExpression></bpmn:resourceAssignmentExpression></bpmn:humanPerformer>"
    )


def owner(text: str) -> str:
    return performer(text).replace("humanPerformer", "potentialOwner")


def field(inner: str, attributes: str = "") -> str:
    return (
        '<bpmn:serviceTask id="Step" camunda:class="org.example.Mailer">'
        f'<bpmn:extensionElements><camunda:field name="to" {attributes}>{inner}'
        "</camunda:field></bpmn:extensionElements></bpmn:serviceTask>"
    )


def end(definition: str) -> str:
    return f'<bpmn:endEvent id="Step">{definition}</bpmn:endEvent>'


def sub_process(step_id: str = "Step", inner: str = "", attributes: str = "") -> str:
    return (
        f'<bpmn:subProcess id="{step_id}" {attributes}><bpmn:startEvent id="{step_id}_s" />'
        f'<bpmn:sequenceFlow id="{step_id}_f" sourceRef="{step_id}_s" targetRef="{step_id}_e" />'
        f'<bpmn:endEvent id="{step_id}_e" />{inner}</bpmn:subProcess>'
    )


def boundary(event_id: str, definition: str, attached_to: str = "Step") -> str:
    return (
        f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached_to}">{definition}'
        f'</bpmn:boundaryEvent><bpmn:sequenceFlow id="{event_id}_f" sourceRef="{event_id}" '
        'targetRef="E" />'
    )


def mapping(attributes: str) -> str:
    return (
        '<bpmn:callActivity id="Step" calledElement="p"><bpmn:extensionElements>'
        f"<camunda:in {attributes} /></bpmn:extensionElements></bpmn:callActivity>"
    )


def io(parameter: str) -> str:
    return (
        f"<bpmn:extensionElements><camunda:inputOutput>{parameter}</camunda:inputOutput>"
        "</bpmn:extensionElements>"
    )


INPUT = '<camunda:inputParameter name="a">1</camunda:inputParameter>'
OUTPUT = '<camunda:outputParameter name="a">1</camunda:outputParameter>'
LOOP = (
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics>"
)
ESCALATION_CATCH_ALL = "<bpmn:escalationEventDefinition />"

# Each case: the model, the element the refusal names, a piece of its reason.
REFUSED: dict[str, tuple[str, str, str]] = {
    "send task without an implementation or message": (
        model('<bpmn:sendTask id="Step" />'),
        "Step",
        "has no implementation",
    ),
    "two humanPerformers on one user task": (
        model(f'<bpmn:userTask id="Step">{performer("ann")}{performer("bob")}</bpmn:userTask>'),
        "Step",
        "2 humanPerformer",
    ),
    "humanPerformer and camunda:assignee together": (
        model(
            f'<bpmn:userTask id="Step" camunda:assignee="ann">{performer("bob")}</bpmn:userTask>'
        ),
        "Step",
        "duplicate assignee declaration",
    ),
    "formKey and formRef together": (
        model(
            '<bpmn:userTask id="Step" camunda:formKey="a" camunda:formRef="b" '
            'camunda:formRefBinding="latest" />'
        ),
        "Step",
        "only one of the attributes formKey and formRef",
    ),
    "formRef without a valid binding": (
        model('<bpmn:userTask id="Step" camunda:formRef="b" camunda:formRefBinding="newest" />'),
        "Step",
        "camunda:formRefBinding",
    ),
    "field with both stringValue and camunda:string": (
        model(field("<camunda:string>b</camunda:string>", 'stringValue="a"')),
        "Step",
        "both the attribute 'stringValue' and a camunda:string",
    ),
    "field with two camunda:string elements": (
        model(field("<camunda:string>a</camunda:string><camunda:string>b</camunda:string>")),
        "Step",
        "2 camunda:string elements",
    ),
    "field with an empty camunda:string": (
        model(field("<camunda:string></camunda:string>")),
        "Step",
        "empty camunda:string",
    ),
    "field with an empty stringValue and nothing else": (
        model(field("", 'stringValue=""')),
        "Step",
        "has no stringValue, expression",
    ),
    "error end event without errorRef": (
        model(end("<bpmn:errorEventDefinition />")),
        "Step",
        "has no errorRef",
    ),
    "error end event throwing an error without errorCode": (
        model(end('<bpmn:errorEventDefinition errorRef="Err_no_code" />')),
        "Step",
        "has no errorCode",
    ),
    "cancel end event outside a transaction": (
        model(end("<bpmn:cancelEventDefinition />")),
        "Step",
        "not inside a transaction",
    ),
    "escalation end event without escalationRef": (
        model(end("<bpmn:escalationEventDefinition />")),
        "Step",
        "has no escalationRef",
    ),
    "escalation throw event of an escalation without code": (
        model(
            '<bpmn:intermediateThrowEvent id="Step">'
            '<bpmn:escalationEventDefinition escalationRef="Esc_no_code" />'
            "</bpmn:intermediateThrowEvent>"
        ),
        "Step",
        "has no escalationCode",
    ),
    "message throw event with camunda:type mail": (
        model(end('<bpmn:messageEventDefinition messageRef="Msg_go" camunda:type="mail" />')),
        "Step",
        "camunda:type='mail'",
    ),
    "boundary event without attachedToRef": (
        model(
            '<bpmn:task id="Step" />',
            '<bpmn:boundaryEvent id="B"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H'
            "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
            '<bpmn:sequenceFlow id="B_f" sourceRef="B" targetRef="E" />',
        ),
        "B",
        "has no attachedToRef",
    ),
    "escalation boundary event on a service task": (
        model(
            '<bpmn:serviceTask id="Step" camunda:expression="${1}" />',
            boundary("B", ESCALATION_CATCH_ALL),
        ),
        "B",
        "is attached to a serviceTask",
    ),
    "two catch-all escalation boundary events on one sub-process": (
        model(
            sub_process(),
            boundary("B1", ESCALATION_CATCH_ALL) + boundary("B2", ESCALATION_CATCH_ALL),
        ),
        "B2",
        "already catches",
    ),
    "a catch-all and a coded escalation boundary event on one sub-process": (
        model(
            sub_process(),
            boundary("B1", '<bpmn:escalationEventDefinition escalationRef="Esc_late" />')
            + boundary("B2", ESCALATION_CATCH_ALL),
        ),
        "B2",
        "already catches",
    ),
    "two escalation event sub-processes for one code": (
        model(
            '<bpmn:task id="Step" />',
            "".join(
                f'<bpmn:subProcess id="ES{n}" triggeredByEvent="true"><bpmn:startEvent '
                f'id="ES{n}_s"><bpmn:escalationEventDefinition escalationRef="Esc_late" />'
                f'</bpmn:startEvent><bpmn:sequenceFlow id="ES{n}_f" sourceRef="ES{n}_s" '
                f'targetRef="ES{n}_e" /><bpmn:endEvent id="ES{n}_e" /></bpmn:subProcess>'
                for n in (1, 2)
            ),
        ),
        "ES2_s",
        "escalationCode 'LATE'",
    ),
    "signal event definition without signalRef": (
        model(
            '<bpmn:intermediateCatchEvent id="Step"><bpmn:signalEventDefinition />'
            "</bpmn:intermediateCatchEvent>"
        ),
        "Step",
        "has no signalRef",
    ),
    "call mapping without source": (
        model(mapping('target="x"')),
        "Step",
        "neither 'source' nor 'sourceExpression'",
    ),
    "call mapping with an empty source": (
        model(mapping('source="" target="x"')),
        "Step",
        "'source' is empty",
    ),
    "call mapping without target": (
        model(mapping('source="x"')),
        "Step",
        "has no 'target'",
    ),
    "call bound to a version it does not name": (
        model(
            '<bpmn:callActivity id="Step" calledElement="p" '
            'camunda:calledElementBinding="version" />'
        ),
        "Step",
        "no camunda:calledElementVersion",
    ),
    "property without id or name": (
        model('<bpmn:task id="Step"><bpmn:property /></bpmn:task>'),
        "Step",
        "neither id nor name",
    ),
    "flow into a compensation handler": (
        model('<bpmn:task id="Step" isForCompensation="true" />'),
        "F1",
        "incoming flow of compensation activity",
    ),
    "flow into an event sub-process": (
        model(
            '<bpmn:task id="Step" />',
            sub_process("ES", attributes='triggeredByEvent="true"').replace(
                '<bpmn:startEvent id="ES_s" />',
                '<bpmn:startEvent id="ES_s"><bpmn:messageEventDefinition messageRef="Msg_go" />'
                "</bpmn:startEvent>",
            )
            + '<bpmn:sequenceFlow id="F_in" sourceRef="Step" targetRef="ES" />',
        ),
        "F_in",
        "incoming flow of event sub-process",
    ),
    "condition of a type other than tFormalExpression": (
        model(
            '<bpmn:exclusiveGateway id="Step" />',
            '<bpmn:sequenceFlow id="F3" sourceRef="Step" targetRef="E">'
            '<bpmn:conditionExpression xsi:type="bpmn:tExpression">${true}'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>",
        ),
        "F3",
        "only tFormalExpression is supported",
    ),
    "a second incoming flow into an event after an event-based gateway": (
        model(
            '<bpmn:eventBasedGateway id="Step" />',
            '<bpmn:intermediateCatchEvent id="Wait"><bpmn:messageEventDefinition '
            'messageRef="Msg_go" /></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="G1" sourceRef="Step" targetRef="Wait" />'
            '<bpmn:task id="Other" /><bpmn:sequenceFlow id="G2" sourceRef="Other" '
            'targetRef="Wait" />',
        ),
        "G2",
        "follows an event-based gateway",
    ),
    "input mapping on a gateway": (
        model(f'<bpmn:parallelGateway id="Step">{io(INPUT)}</bpmn:parallelGateway>'),
        "Step",
        "not supported on a parallelGateway",
    ),
    "input mapping on a start event": (
        model('<bpmn:task id="Step" />').replace(
            '<bpmn:startEvent id="S" />', f'<bpmn:startEvent id="S">{io(INPUT)}</bpmn:startEvent>'
        ),
        "S",
        "not supported on a startEvent",
    ),
    "output mapping on an end event": (
        model(end(io(OUTPUT))),
        "Step",
        "not allowed on an end event",
    ),
    "output mapping on a multi-instance task": (
        model(f'<bpmn:task id="Step">{io(OUTPUT)}{LOOP}</bpmn:task>'),
        "Step",
        "not allowed on a multi-instance activity",
    ),
    "expression in the message name of a start event": (
        model(
            '<bpmn:task id="Step" />',
            definitions='<bpmn:message id="Msg_dyn" name="go-${region}" />',
        ).replace(
            '<bpmn:startEvent id="S" />',
            '<bpmn:startEvent id="S"><bpmn:messageEventDefinition messageRef="Msg_dyn" />'
            "</bpmn:startEvent>",
        ),
        "S",
        "whose name is an expression",
    ),
}


@pytest.mark.parametrize(("text", "element_id", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_deploy__refuses_what_camunda_refuses_naming_file_line_and_element(
    engine: flowdesk.Engine, tmp_path: Path, text: str, element_id: str, reason: str
) -> None:
    assert_refused_once(engine, text, tmp_path, element_id, reason)


def test_deploy__accepts_a_send_task_with_only_a_message_ref_which_flowdesk_sends(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda refuses it; flowdesk's documented extension sends the message (docs/events.md).
    (tmp_path / "m.bpmn").write_text(model('<bpmn:sendTask id="Step" messageRef="Msg_go" />'))

    engine.deploy(tmp_path / "m.bpmn")

    instance = engine.start("p")
    assert instance.state == "completed"
    thrown = [h for h in engine.history(instance.id) if h.type == "message_thrown"]
    assert [h.data["name"] for h in thrown] == ["go"]


MESSAGE_RECEIVER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="R"
    targetNamespace="t">
  <bpmn:message id="Msg_go" name="go" />
  <bpmn:process id="receiver" isExecutable="true">
    <bpmn:startEvent id="RS" />
    <bpmn:sequenceFlow id="RF1" sourceRef="RS" targetRef="Wait" />
    <bpmn:receiveTask id="Wait" messageRef="Msg_go" />
    <bpmn:sequenceFlow id="RF2" sourceRef="Wait" targetRef="RE" />
    <bpmn:endEvent id="RE" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("definition", "calls"),
    [
        (
            '<bpmn:messageEventDefinition messageRef="Msg_go" camunda:class="org.example.Sender">'
            '<bpmn:extensionElements><camunda:field name="channel" stringValue="mail" />'
            "</bpmn:extensionElements></bpmn:messageEventDefinition>",
            [("Step", {"channel": "mail"})],
        ),
        (
            '<bpmn:messageEventDefinition messageRef="Msg_go" '
            'camunda:delegateExpression="${sender}" />',
            [("Step", {})],
        ),
    ],
    ids=["camunda:class with a field", "delegateExpression"],
)
@pytest.mark.parametrize("kind", ["endEvent", "intermediateThrowEvent"])
def test_message_throw_event_with_an_implementation_runs_it_and_sends_no_message(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    kind: str,
    definition: str,
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    # Camunda 7 (CAM-436) runs such an event as a service task: the delegate does the sending.
    seen: list[tuple[str, dict[str, Any]]] = []
    registry = flowdesk.HandlerRegistry()
    for name in ("org.example.Sender", "sender"):
        registry.register_service(name, lambda call: seen.append((call.element_id, call.fields)))
    engine = make_engine(handlers=registry)
    (tmp_path / "receiver.bpmn").write_text(MESSAGE_RECEIVER)
    step = f'<bpmn:{kind} id="Step">{definition}</bpmn:{kind}>'
    text = model(step)
    if kind == "endEvent":
        text = text.replace('<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E" />', "")
    (tmp_path / "m.bpmn").write_text(text)
    engine.deploy(tmp_path)
    receiver = engine.start("receiver")

    instance = engine.start("p")

    assert instance.state == "completed"
    assert seen == calls
    assert [h.type for h in engine.history(instance.id) if h.type == "message_thrown"] == []
    assert engine.instance(receiver.id).state == "running"


ASSIGNED = {
    "humanPerformer is the assignee": (
        performer("${starter}"),
        "",
        ("ann", (), ()),
    ),
    "potentialOwner items by prefix, bare items are groups": (
        owner("user(kermit), group(management), sales, user(${starter})"),
        "",
        (None, ("ann", "kermit"), ("management", "sales")),
    ),
    "potentialOwner comes before the camunda candidates": (
        owner("group(first)"),
        ' camunda:candidateGroups="second,${extra}" camunda:candidateUsers="bob"',
        (None, ("bob",), ("first", "fourth", "second", "third")),
    ),
}


@pytest.mark.parametrize(
    ("resources", "attributes", "expected"), ASSIGNED.values(), ids=ASSIGNED.keys()
)
def test_user_task_resource_assignments_give_assignee_and_candidates_as_in_camunda(
    engine: flowdesk.Engine,
    tmp_path: Path,
    resources: str,
    attributes: str,
    expected: tuple[str | None, tuple[str, ...], tuple[str, ...]],
) -> None:
    step = f'<bpmn:userTask id="Step"{attributes}>{resources}</bpmn:userTask>'
    (tmp_path / "m.bpmn").write_text(model(step))
    engine.deploy(tmp_path / "m.bpmn")

    instance = engine.start("p", {"starter": "ann", "extra": ["third", "fourth"]})

    (task,) = engine.tasks(instance_id=instance.id)
    # Candidates are sets, as Camunda's identity links are; flowdesk lists them sorted.
    assert (task.assignee, tuple(task.candidate_users), tuple(task.candidate_groups)) == expected
    assert open_tasks(engine, instance.id) == ["Step"]


def test_field_text_wins_over_field_expression_as_in_camunda(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    registry = flowdesk.HandlerRegistry()
    registry.register_service("org.example.Mailer", lambda call: seen.append(call.fields))
    engine = make_engine(handlers=registry)
    step = field("<camunda:expression>${address}</camunda:expression>", 'stringValue="fixed"')
    (tmp_path / "m.bpmn").write_text(model(step))
    engine.deploy(tmp_path / "m.bpmn")

    engine.start("p", {"address": "ann@example.org"})

    assert seen == [{"to": "fixed"}]
