"""Camunda 7's deploy refusals, first half of `BpmnParse`: flowdesk refuses the same models.

Each case is a small model with one problem Camunda 7's parser refuses (root elements, start
events, messages and signals, exclusive gateways, intermediate events, compensation and
cancel boundaries, multi-instance, event-based gateways, script and service tasks,
priorities, external task topics). Deploying it must raise `BpmnValidationError` naming the
file, the line and the element, and store nothing. docs/camunda-refusals.md has the table;
the cases where flowdesk deliberately does otherwise are tested at the end.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

import flowdesk
from tests.api.conftest import DATA, assert_refused_once

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:activiti="http://activiti.org/bpmn" id="D" targetNamespace="t">
  {root}
  <bpmn:process id="p" isExecutable="true" {process}>
    {body}
  </bpmn:process>
</bpmn:definitions>
"""
LINEAR = (
    '<bpmn:startEvent id="S" />{step}<bpmn:endEvent id="E" />'
    '<bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />'
    '<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E" />'
)
START_END = (
    '<bpmn:startEvent id="S" /><bpmn:endEvent id="E" />'
    '<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="E" />'
)
INNER = (
    '<bpmn:startEvent id="SS" /><bpmn:endEvent id="SE" />'
    '<bpmn:sequenceFlow id="SF" sourceRef="SS" targetRef="SE" />'
)
MESSAGES = '<bpmn:message id="M1" name="go" /><bpmn:message id="M2" name="go" />'
SIGNALS = '<bpmn:signal id="G1" name="sig" />'
CONDITION = "<bpmn:conditionExpression>${x}</bpmn:conditionExpression>"
TIMER = (
    "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition>"
)


def model(
    step: str = '<bpmn:task id="Step" />',
    *,
    body: str | None = None,
    root: str = "",
    process: str = "",
    extra: str = "",
) -> str:
    """A process S -> Step -> E (or `body`), with `extra` beside it and `root` elements."""
    text = body if body is not None else LINEAR.format(step=step)
    return HEAD.format(root=root, body=text + extra, process=process)


def sub_process(inner: str, *, tag: str = "subProcess", attributes: str = "") -> str:
    return f'<bpmn:{tag} id="Step" {attributes}>{inner}</bpmn:{tag}>'


def sub_process_starting_with(definition: str) -> str:
    return sub_process(
        f'<bpmn:startEvent id="SS">{definition}</bpmn:startEvent><bpmn:endEvent id="SE" />'
        '<bpmn:sequenceFlow id="SF" sourceRef="SS" targetRef="SE" />'
    )


def event_sub_process(definition: str, *, n: str = "", interrupting: str = "true") -> str:
    return (
        f'<bpmn:subProcess id="ESP{n}" triggeredByEvent="true">'
        f'<bpmn:startEvent id="ES{n}" isInterrupting="{interrupting}">{definition}'
        f'</bpmn:startEvent><bpmn:endEvent id="EE{n}" />'
        f'<bpmn:sequenceFlow id="EF{n}" sourceRef="ES{n}" targetRef="EE{n}" /></bpmn:subProcess>'
    )


def boundary(n: str, definition: str, host: str = "Step") -> str:
    return (
        f'<bpmn:boundaryEvent id="B{n}" attachedToRef="{host}">{definition}</bpmn:boundaryEvent>'
        f'<bpmn:endEvent id="BE{n}" /><bpmn:sequenceFlow id="BF{n}" sourceRef="B{n}" '
        f'targetRef="BE{n}" />'
    )


def exclusive_gateway(flows: str, *, default: str = "") -> str:
    return (
        f'<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="Step" {default} />'
        '<bpmn:endEvent id="E" /><bpmn:endEvent id="E2" />'
        '<bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />' + flows
    )


def event_based_gateway(target: str, *, attributes: str = "") -> str:
    """S -> gateway Step -> (`target`, id T1) and a timer catch -> E."""
    return (
        f'<bpmn:startEvent id="S" /><bpmn:eventBasedGateway id="Step" {attributes} />{target}'
        f'<bpmn:intermediateCatchEvent id="T2">{TIMER}</bpmn:intermediateCatchEvent>'
        '<bpmn:endEvent id="E" /><bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />'
        '<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="T1" />'
        '<bpmn:sequenceFlow id="F3" sourceRef="Step" targetRef="T2" />'
        '<bpmn:sequenceFlow id="F4" sourceRef="T1" targetRef="E" />'
        '<bpmn:sequenceFlow id="F5" sourceRef="T2" targetRef="E" />'
    )


def two_starts(first: str, second: str) -> str:
    return (
        f'<bpmn:startEvent id="S">{first}</bpmn:startEvent>'
        f'<bpmn:startEvent id="S2">{second}</bpmn:startEvent><bpmn:endEvent id="E" />'
        '<bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="E" />'
        '<bpmn:sequenceFlow id="F9" sourceRef="S2" targetRef="E" />'
    )


def annotated(association: str) -> str:
    return model(
        extra='<bpmn:textAnnotation id="Note"><bpmn:text>why</bpmn:text></bpmn:textAnnotation>'
        + association
    )


COMPENSATION_HANDLER = (
    '<bpmn:boundaryEvent id="B" attachedToRef="Step"><bpmn:compensateEventDefinition />'
    '</bpmn:boundaryEvent><bpmn:task id="H" {handler} />'
    '<bpmn:association id="A" sourceRef="B" targetRef="H" />'
)

# id -> (model, element the problem names, part of its reason)
REFUSED: dict[str, tuple[str, str | None, str]] = {
    # -- root elements ---------------------------------------------------------------------------
    "an import of any type is refused": (
        model(
            root='<bpmn:import importType="http://www.w3.org/2001/XMLSchema" '
            'location="types.xsd" namespace="urn:types" />'
        ),
        None,
        "Could not import item of type http://www.w3.org/2001/XMLSchema",
    ),
    "a WSDL import is refused": (
        model(
            root='<bpmn:import importType="http://schemas.xmlsoap.org/wsdl/" '
            'location="svc.wsdl" namespace="urn:svc" />'
        ),
        None,
        "Could not import item of type http://schemas.xmlsoap.org/wsdl/",
    ),
    "two signals with the same name are refused": (
        model(root='<bpmn:signal id="G1" name="sig" /><bpmn:signal id="G2" name="sig" />'),
        "G2",
        "duplicate signal name 'sig'",
    ),
    "a signal without an id is refused": (
        model(root='<bpmn:signal name="sig" />'),
        None,
        "signal must have an id",
    ),
    "a signal without a name is refused": (
        model(root='<bpmn:signal id="G1" />'),
        "G1",
        "has no name",
    ),
    "an error without an id is refused": (
        model(root='<bpmn:error errorCode="E42" name="late" />'),
        None,
        "'id' is mandatory on error definition",
    ),
    "an escalation without an id is refused": (
        model(root='<bpmn:escalation escalationCode="up" name="up" />'),
        None,
        "escalation must have an id",
    ),
    # -- processes -------------------------------------------------------------------------------
    "a history time to live that is not a number of days is refused": (
        model(process='camunda:historyTimeToLive="PT1H"'),
        "p",
        "Cannot parse historyTimeToLive",
    ),
    "a negative history time to live is refused": (
        model(process='camunda:historyTimeToLive="-5"'),
        "p",
        "Cannot parse historyTimeToLive",
    ),
    "an association without a sourceRef is refused": (
        annotated('<bpmn:association id="A" targetRef="Note" />'),
        "A",
        "missing attribute 'sourceRef'",
    ),
    "an association without a targetRef is refused": (
        annotated('<bpmn:association id="A" sourceRef="Step" />'),
        "A",
        "missing attribute 'targetRef'",
    ),
    "an association from an unknown element is refused": (
        annotated('<bpmn:association id="A" sourceRef="Nowhere" targetRef="Note" />'),
        "A",
        "Invalid reference sourceRef",
    ),
    "an association to an unknown element is refused": (
        annotated('<bpmn:association id="A" sourceRef="Step" targetRef="Nowhere" />'),
        "A",
        "Invalid reference targetRef",
    ),
    # -- compensation ----------------------------------------------------------------------------
    "a compensation boundary event associated with a normal activity is refused": (
        model(extra=COMPENSATION_HANDLER.format(handler="")),
        "B",
        "must be connected to element with isForCompensation=true",
    ),
    "a compensation boundary event beside a compensation event sub-process is refused": (
        model(
            sub_process(
                INNER + '<bpmn:subProcess id="C" triggeredByEvent="true"><bpmn:startEvent id="CS">'
                '<bpmn:compensateEventDefinition /></bpmn:startEvent><bpmn:endEvent id="CE" />'
                '<bpmn:sequenceFlow id="CF" sourceRef="CS" targetRef="CE" /></bpmn:subProcess>'
            ),
            extra=COMPENSATION_HANDLER.format(handler='isForCompensation="true"'),
        ),
        "CS",
        "not supported on the same scope",
    ),
    "a compensation event sub-process at process level is refused": (
        model(body=START_END + event_sub_process("<bpmn:compensateEventDefinition />")),
        "ES",
        "only supported for embedded subprocess",
    ),
    "two compensation event sub-processes in one sub-process are refused": (
        model(
            sub_process(
                INNER
                + event_sub_process("<bpmn:compensateEventDefinition />", n="1")
                + event_sub_process("<bpmn:compensateEventDefinition />", n="2")
            )
        ),
        "ES2",
        "multiple event subprocesses with compensation start event",
    ),
    "a compensation throw naming an unknown activity is refused": (
        model(
            '<bpmn:intermediateThrowEvent id="Step"><bpmn:compensateEventDefinition '
            'activityRef="Nowhere" /></bpmn:intermediateThrowEvent>'
        ),
        "Step",
        "no activity with id 'Nowhere'",
    ),
    "two compensation boundary events on one activity are refused": (
        model(
            extra=COMPENSATION_HANDLER.format(handler='isForCompensation="true"')
            + '<bpmn:boundaryEvent id="B2" attachedToRef="Step"><bpmn:compensateEventDefinition />'
            '</bpmn:boundaryEvent><bpmn:task id="H2" isForCompensation="true" />'
            '<bpmn:association id="A2" sourceRef="B2" targetRef="H2" />'
        ),
        "B2",
        "several compensation boundary events",
    ),
    # -- start events ----------------------------------------------------------------------------
    "a process without a start event is refused": (
        model(body='<bpmn:task id="Step" />'),
        "p",
        "has no start event",
    ),
    "an embedded sub-process without a start event is refused": (
        model(sub_process('<bpmn:task id="Inner" />')),
        "Step",
        "has no start event",
    ),
    "two none start events in a process are refused": (
        model(body=two_starts("", "")),
        "S2",
        "multiple none start events or timer start events",
    ),
    "a none and a timer start event in a process are refused": (
        model(body=two_starts("", TIMER)),
        "S2",
        "multiple none start events or timer start events",
    ),
    "two start events in an embedded sub-process are refused": (
        model(
            sub_process(
                INNER + '<bpmn:startEvent id="SS2" /><bpmn:sequenceFlow id="SF2" sourceRef="SS2" '
                'targetRef="SE" />'
            )
        ),
        "Step",
        "Exactly one start event is required",
    ),
    "a non-interrupting error start event of an event sub-process is refused": (
        model(
            body=START_END
            + event_sub_process("<bpmn:errorEventDefinition />", interrupting="false")
        ),
        "ES",
        "error start event of event subprocess must be interrupting",
    ),
    "an event sub-process with a none start event is refused": (
        model(body=START_END + event_sub_process("")),
        "ES",
        "start event of event subprocess must be of type",
    ),
    **{
        f"a {kind} start event in an embedded sub-process is refused": (
            model(sub_process_starting_with(definition), root=MESSAGES + SIGNALS),
            "SS",
            reason,
        )
        for kind, definition, reason in (
            (
                "conditional",
                "<bpmn:conditionalEventDefinition><bpmn:condition>${x}</bpmn:condition>"
                "</bpmn:conditionalEventDefinition>",
                "conditionalEventDefinition is not allowed on start event within a subprocess",
            ),
            ("timer", TIMER, "timerEventDefinition is not allowed on start event"),
            (
                "escalation",
                "<bpmn:escalationEventDefinition />",
                "escalationEventDefinition is not allowed on start event",
            ),
            (
                "compensation",
                "<bpmn:compensateEventDefinition />",
                "only allowed in an event sub-process",
            ),
            (
                "error",
                "<bpmn:errorEventDefinition />",
                "errorEventDefinition only allowed on start event if subprocess is an event",
            ),
            (
                "message",
                '<bpmn:messageEventDefinition messageRef="M1" />',
                "messageEventDefinition only allowed on start event if subprocess is an event",
            ),
            (
                "signal",
                '<bpmn:signalEventDefinition signalRef="G1" />',
                "signalEventDefintion only allowed on start event if subprocess is an event",
            ),
        )
    },
    # -- messages and subscriptions --------------------------------------------------------------
    "a message start event without a messageRef is refused": (
        model(body=two_starts("<bpmn:messageEventDefinition />", "")),
        "S",
        "attribute 'messageRef' is required",
    ),
    "a receive task waiting for an undefined message is refused": (
        model('<bpmn:receiveTask id="Step" messageRef="Nowhere" />'),
        "Step",
        "refers to message 'Nowhere'",
    ),
    "a catch event waiting for a message without a name is refused": (
        model(
            '<bpmn:intermediateCatchEvent id="Step"><bpmn:messageEventDefinition '
            'messageRef="M0" /></bpmn:intermediateCatchEvent>',
            root='<bpmn:message id="M0" />',
        ),
        "Step",
        "Cannot have a message event subscription with an empty or missing name",
    ),
    "a receive task waiting for a message without a name is refused": (
        model('<bpmn:receiveTask id="Step" messageRef="M0" />', root='<bpmn:message id="M0" />'),
        "Step",
        "empty or missing name",
    ),
    "two message start events with one message name are refused": (
        model(
            body=two_starts(
                '<bpmn:messageEventDefinition messageRef="M1" />',
                '<bpmn:messageEventDefinition messageRef="M2" />',
            ),
            root=MESSAGES,
        ),
        "S2",
        "both wait for a message event with name 'go' in scope 'p'",
    ),
    "two message boundary events with one message on an activity are refused": (
        model(
            '<bpmn:userTask id="Step" />',
            root=MESSAGES,
            extra=boundary("1", '<bpmn:messageEventDefinition messageRef="M1" />')
            + boundary("2", '<bpmn:messageEventDefinition messageRef="M1" />'),
        ),
        "B2",
        "both wait for a message event with name 'go' in scope 'Step'",
    ),
    "two message event sub-processes with one message name in a scope are refused": (
        model(
            body=START_END
            + event_sub_process('<bpmn:messageEventDefinition messageRef="M1" />', n="1")
            + event_sub_process('<bpmn:messageEventDefinition messageRef="M2" />', n="2"),
            root=MESSAGES,
        ),
        "ES2",
        "both wait for a message event with name 'go' in scope 'p'",
    ),
    "two signal start events with one signal are refused": (
        model(
            body=two_starts(
                '<bpmn:signalEventDefinition signalRef="G1" />',
                '<bpmn:signalEventDefinition signalRef="G1" />',
            ),
            root=SIGNALS,
        ),
        "S2",
        "both wait for a signal event with name 'sig'",
    ),
    "two signal boundary events with one signal on an activity are refused": (
        model(
            '<bpmn:userTask id="Step" />',
            root=SIGNALS,
            extra=boundary("1", '<bpmn:signalEventDefinition signalRef="G1" />')
            + boundary("2", '<bpmn:signalEventDefinition signalRef="G1" />'),
        ),
        "B2",
        "both wait for a signal event with name 'sig'",
    ),
    "two message catches with one message after an event-based gateway are refused": (
        model(
            body=event_based_gateway(
                '<bpmn:intermediateCatchEvent id="T1"><bpmn:messageEventDefinition '
                'messageRef="M1" /></bpmn:intermediateCatchEvent>'
            ).replace(TIMER, '<bpmn:messageEventDefinition messageRef="M2" />'),
            root=MESSAGES,
        ),
        "T2",
        "in scope 'Step'",
    ),
    "two conditional start events with one condition are refused": (
        model(
            body=two_starts(
                "<bpmn:conditionalEventDefinition><bpmn:condition>${x}</bpmn:condition>"
                "</bpmn:conditionalEventDefinition>",
                "<bpmn:conditionalEventDefinition><bpmn:condition>${x}</bpmn:condition>"
                "</bpmn:conditionalEventDefinition>",
            )
        ),
        "S2",
        "the same condition '${x}'",
    ),
    # -- sequence flows and exclusive gateways ---------------------------------------------------
    "an id-less flow leaving an asyncAfter activity is refused": (
        model(
            body='<bpmn:startEvent id="S" /><bpmn:task id="Step" camunda:asyncAfter="true" />'
            '<bpmn:endEvent id="E" /><bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Step" />'
            '<bpmn:sequenceFlow sourceRef="Step" targetRef="E" />'
        ),
        "Step",
        "must have an id",
    ),
    "an exclusive gateway without outgoing flows is refused": (
        model(body=exclusive_gateway("")),
        "Step",
        "has no outgoing sequence flow",
    ),
    "an exclusive gateway whose only flow has a condition is refused": (
        model(
            body=exclusive_gateway(
                f'<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E">{CONDITION}'
                "</bpmn:sequenceFlow>"
            )
        ),
        "F2",
        "This is not allowed to have a condition",
    ),
    "an exclusive gateway's default flow with a condition is refused": (
        model(
            body=exclusive_gateway(
                f'<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E">{CONDITION}'
                f'</bpmn:sequenceFlow><bpmn:sequenceFlow id="F3" sourceRef="Step" '
                f'targetRef="E2">{CONDITION}</bpmn:sequenceFlow>',
                default='default="F3"',
            )
        ),
        "F3",
        "is the default flow of exclusive gateway 'Step' but has a condition too",
    ),
    "an exclusive gateway with a default and an unconditional flow is refused": (
        model(
            body=exclusive_gateway(
                '<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E" />'
                '<bpmn:sequenceFlow id="F3" sourceRef="Step" targetRef="E2" />',
                default='default="F3"',
            )
        ),
        "F2",
        "without condition",
    ),
    "an exclusive gateway with two flows without condition and no default is refused": (
        model(
            body=exclusive_gateway(
                '<bpmn:sequenceFlow id="F2" sourceRef="Step" targetRef="E" />'
                '<bpmn:sequenceFlow id="F3" sourceRef="Step" targetRef="E2" />'
            )
        ),
        "F2",
        "without condition",
    ),
    # -- intermediate events and event-based gateways ---------------------------------------------
    "an intermediate catch event without an event definition is refused": (
        model('<bpmn:intermediateCatchEvent id="Step" />'),
        "Step",
        "Unsupported intermediate catch event type",
    ),
    "two link catch events with one name are refused": (
        model(
            body='<bpmn:startEvent id="S" /><bpmn:intermediateThrowEvent id="LT">'
            '<bpmn:linkEventDefinition name="L" /></bpmn:intermediateThrowEvent>'
            '<bpmn:intermediateCatchEvent id="L1"><bpmn:linkEventDefinition name="L" />'
            '</bpmn:intermediateCatchEvent><bpmn:intermediateCatchEvent id="L2">'
            '<bpmn:linkEventDefinition name="L" /></bpmn:intermediateCatchEvent>'
            '<bpmn:endEvent id="E" /><bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="LT" />'
            '<bpmn:sequenceFlow id="F2" sourceRef="L1" targetRef="E" />'
            '<bpmn:sequenceFlow id="F3" sourceRef="L2" targetRef="E" />'
        ),
        "L2",
        "Multiple Intermediate Catch Events with the same link event name",
    ),
    "two link catch events with one name in different sub-processes are refused": (
        model(
            sub_process(
                INNER + '<bpmn:intermediateCatchEvent id="L1"><bpmn:linkEventDefinition name="L" />'
                '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="LF1" sourceRef="L1" '
                'targetRef="SE" />'
            ),
            extra='<bpmn:intermediateCatchEvent id="L2"><bpmn:linkEventDefinition name="L" />'
            '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="LF2" sourceRef="L2" '
            'targetRef="E" />',
        ),
        "L2",
        "Multiple Intermediate Catch Events with the same link event name",
    ),
    "a link catch event after an event-based gateway is refused": (
        model(
            body=event_based_gateway(
                '<bpmn:intermediateCatchEvent id="T1"><bpmn:linkEventDefinition name="L" />'
                "</bpmn:intermediateCatchEvent>"
            )
        ),
        "T1",
        "IntermediateCatchLinkEvent is not allowed after an EventBasedGateway",
    ),
    "an escalation throw whose escalation has no code is refused": (
        model(
            '<bpmn:intermediateThrowEvent id="Step"><bpmn:escalationEventDefinition '
            'escalationRef="Up" /></bpmn:intermediateThrowEvent>',
            root='<bpmn:escalation id="Up" name="up" />',
        ),
        "Step",
        "throwing escalation event must have an 'escalationCode'",
    ),
    "a cancel boundary event on a sub-process that is no transaction is refused": (
        model(sub_process(INNER), extra=boundary("", "<bpmn:cancelEventDefinition />")),
        "Step",
        "Cancel Events may only be used with transactions",
    ),
    "two cancel boundary events on one transaction are refused": (
        model(
            sub_process(INNER, tag="transaction"),
            extra=boundary("1", "<bpmn:cancelEventDefinition />")
            + boundary("2", "<bpmn:cancelEventDefinition />"),
        ),
        "B2",
        "multiple boundary events with cancelEventDefinition",
    ),
    "an event-based gateway with asyncAfter is refused": (
        model(
            body=event_based_gateway(
                f'<bpmn:intermediateCatchEvent id="T1">{TIMER}</bpmn:intermediateCatchEvent>',
                attributes='camunda:asyncAfter="true"',
            )
        ),
        "Step",
        "'asyncAfter' not supported for eventBasedGateway elements",
    ),
    "an event-based gateway leading to a receive task is refused": (
        model(
            body=event_based_gateway('<bpmn:receiveTask id="T1" messageRef="M1" />'),
            root=MESSAGES,
        ),
        "Step",
        "can only be connected to elements of type intermediateCatchEvent",
    ),
    "an event-based gateway leading to a task is refused": (
        model(body=event_based_gateway('<bpmn:task id="T1" />')),
        "Step",
        "can only be connected to elements of type intermediateCatchEvent",
    ),
    # -- multi-instance ---------------------------------------------------------------------------
    "an empty loopCardinality is refused": (
        model(
            '<bpmn:task id="Step"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>'
            "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        ),
        "Step",
        "loopCardinality of 'Step' is empty",
    ),
    "a multi-instance activity without cardinality or collection is refused": (
        model('<bpmn:task id="Step"><bpmn:multiInstanceLoopCharacteristics /></bpmn:task>'),
        "Step",
        "needs loopCardinality or camunda:collection",
    ),
    "an element variable without a collection is refused": (
        model(
            '<bpmn:task id="Step"><bpmn:multiInstanceLoopCharacteristics '
            'camunda:elementVariable="item"><bpmn:loopCardinality>2</bpmn:loopCardinality>'
            "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        ),
        "Step",
        "needs camunda:collection",
    ),
    "an input data item without a collection is refused": (
        model(
            '<bpmn:task id="Step"><bpmn:multiInstanceLoopCharacteristics>'
            '<bpmn:loopCardinality>2</bpmn:loopCardinality><bpmn:inputDataItem name="item" />'
            "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        ),
        "Step",
        "needs camunda:collection",
    ),
    # -- script tasks -----------------------------------------------------------------------------
    "a script task without a script is refused": (
        model('<bpmn:scriptTask id="Step" scriptFormat="javascript" />'),
        "Step",
        "No Script Provided",
    ),
    "a script task with an empty scriptFormat is refused": (
        model(
            '<bpmn:scriptTask id="Step" scriptFormat=""><bpmn:script>x = 1</bpmn:script>'
            "</bpmn:scriptTask>"
        ),
        "Step",
        "Script language is empty",
    ),
    # -- service tasks and their kin ---------------------------------------------------------------
    "a service task without an implementation is refused": (
        model('<bpmn:serviceTask id="Step" />'),
        "Step",
        "One of the attributes 'class', 'delegateExpression', 'type', or 'expression'",
    ),
    "a service task with a blank class is refused": (
        model('<bpmn:serviceTask id="Step" camunda:class="  " />'),
        "Step",
        "has no implementation",
    ),
    "a service task with an empty expression is refused": (
        model('<bpmn:serviceTask id="Step" camunda:expression="" />'),
        "Step",
        "has no implementation",
    ),
    "a send task with a blank class is refused": (
        model('<bpmn:sendTask id="Step" camunda:class="" />'),
        "Step",
        "has no implementation",
    ),
    "a service task of an unknown type is refused": (
        model('<bpmn:serviceTask id="Step" camunda:type="pigeon" />'),
        "Step",
        "camunda:type='pigeon'",
    ),
    "a result variable beside a class is refused": (
        model(
            '<bpmn:serviceTask id="Step" camunda:class="org.example.Tax" '
            'camunda:resultVariable="r" />'
        ),
        "Step",
        "'resultVariableName' not supported for serviceTask elements using 'class'",
    ),
    "the older resultVariableName beside a class is refused": (
        model(
            '<bpmn:serviceTask id="Step" camunda:class="org.example.Tax" '
            'camunda:resultVariableName="r" />'
        ),
        "Step",
        "using 'class'",
    ),
    "a result variable beside a delegate expression is refused": (
        model(
            '<bpmn:serviceTask id="Step" camunda:delegateExpression="${tax}" '
            'camunda:resultVariable="r" />'
        ),
        "Step",
        "using 'delegateExpression'",
    ),
    "an Activiti result variable beside an Activiti class is refused": (
        model(
            '<bpmn:serviceTask id="Step" activiti:class="org.example.Tax" '
            'activiti:resultVariable="r" />'
        ),
        "Step",
        "using 'class'",
    ),
    "a message throw event with a result variable beside a class is refused": (
        model(
            '<bpmn:intermediateThrowEvent id="Step"><bpmn:messageEventDefinition '
            'camunda:class="org.example.Send" camunda:resultVariable="r" />'
            "</bpmn:intermediateThrowEvent>"
        ),
        "Step",
        "using 'class'",
    ),
    "a message throw event of an unknown type is refused": (
        model(
            '<bpmn:intermediateThrowEvent id="Step"><bpmn:messageEventDefinition '
            'camunda:type="pigeon" /></bpmn:intermediateThrowEvent>'
        ),
        "Step",
        "camunda:type='pigeon'",
    ),
    "an external task without a topic is refused": (
        model('<bpmn:serviceTask id="Step" camunda:type="external" />'),
        "Step",
        "External tasks must specify a 'topic' attribute",
    ),
    "an Activiti external task without a topic is refused": (
        model('<bpmn:serviceTask id="Step" activiti:type="external" />'),
        "Step",
        "External tasks must specify a 'topic' attribute",
    ),
    "an external message throw event without a topic is refused": (
        model(
            '<bpmn:intermediateThrowEvent id="Step"><bpmn:messageEventDefinition '
            'camunda:type="external" /></bpmn:intermediateThrowEvent>'
        ),
        "Step",
        "External tasks must specify a 'topic' attribute",
    ),
    "a business rule task without a decision is refused": (
        model('<bpmn:businessRuleTask id="Step" />'),
        "Step",
        "no camunda:decisionRef",
    ),
    # -- priorities -------------------------------------------------------------------------------
    "a job priority that is not a number is refused": (
        model('<bpmn:userTask id="Step" camunda:jobPriority="high" />'),
        "Step",
        "camunda:jobPriority 'high'",
    ),
    "a process task priority that is not a number is refused": (
        model(process='camunda:taskPriority="1.5"'),
        "p",
        "camunda:taskPriority '1.5'",
    ),
    "an external task priority that is not a number is refused": (
        model(
            '<bpmn:serviceTask id="Step" camunda:type="external" camunda:topic="tax" '
            'camunda:taskPriority="urgent" />'
        ),
        "Step",
        "camunda:taskPriority 'urgent'",
    ),
}


@pytest.mark.parametrize(
    ("text", "element_id", "reason"), REFUSED.values(), ids=list(REFUSED.keys())
)
def test_deploy__refuses_what_camunda_7_refuses_naming_file_line_and_element(
    engine: flowdesk.Engine, tmp_path: Path, text: str, element_id: str | None, reason: str
) -> None:
    assert_refused_once(engine, text, tmp_path, element_id, reason)


def test_deploy__refuses_a_decision_result_mapper_camunda_does_not_have(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(DATA / "decisions_route.dmn", folder / "route.dmn")
    (folder / "m.bpmn").write_text(
        model(
            '<bpmn:businessRuleTask id="Step" camunda:decisionRef="approval_route" '
            'camunda:mapDecisionResult="firstRow" camunda:resultVariable="route" />'
        )
    )

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(folder)

    (problem,) = caught.value.problems
    assert problem.element_id == "Step" and problem.line is not None
    assert "firstRow" in problem.message
    assert engine.definitions() == []


# -- what flowdesk deliberately does otherwise -----------------------------------------------------


def test_deploy__a_process_without_history_time_to_live_deploys_and_runs(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7.20+ refuses it unless the engine configuration has a default; flowdesk keeps no
    # history to clean up, so it has nothing to enforce.
    (tmp_path / "m.bpmn").write_text(model())

    engine.deploy(tmp_path / "m.bpmn")

    assert engine.start("p").state == "completed"


def test_deploy__a_valid_history_time_to_live_in_days_deploys(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    (tmp_path / "a.bpmn").write_text(model(process='camunda:historyTimeToLive="P180D"'))

    engine.deploy(tmp_path / "a.bpmn")

    assert engine.start("p").state == "completed"


def test_deploy__a_script_task_without_script_format_runs_as_python(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 reads a missing scriptFormat as JUEL; flowdesk runs it as Python (documented).
    (tmp_path / "m.bpmn").write_text(
        model(
            '<bpmn:scriptTask id="Step"><bpmn:script>total = 2 + 3</bpmn:script></bpmn:scriptTask>'
        )
    )
    engine.deploy(tmp_path / "m.bpmn")

    instance = engine.start("p")

    assert instance.state == "completed"
    assert instance.variables["total"] == 5


def test_deploy__a_connector_service_task_warns_and_is_an_incident_when_reached(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 runs it with the connect plugin (and refuses it without); flowdesk has no
    # connectors: it warns at deploy and the task becomes an incident, never skipped.
    (tmp_path / "m.bpmn").write_text(
        model(
            '<bpmn:serviceTask id="Step"><bpmn:extensionElements><camunda:connector>'
            "<camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>"
            "</bpmn:extensionElements></bpmn:serviceTask>"
        )
    )

    with pytest.warns(flowdesk.MissingHandlerWarning):
        engine.deploy(tmp_path / "m.bpmn")

    instance = engine.start("p")
    assert instance.state == "incident"
    assert instance.incident is not None and "Step" in instance.incident


def test_deploy__a_task_priority_on_a_user_task_is_not_read(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 reads camunda:taskPriority only on processes and external tasks.
    (tmp_path / "m.bpmn").write_text(
        model('<bpmn:userTask id="Step" camunda:taskPriority="soon" />')
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.deploy(tmp_path / "m.bpmn")

    assert engine.start("p").state == "running"


def test_deploy__a_transaction_without_start_event_is_refused(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 deploys it and fails each instance that enters it; flowdesk refuses it at once.
    (tmp_path / "m.bpmn").write_text(
        model(sub_process('<bpmn:task id="Inner" />', tag="transaction"))
    )

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(tmp_path / "m.bpmn")

    assert [p.element_id for p in caught.value.problems] == ["Step"]
    assert engine.definitions() == []


def test_deploy__a_non_executable_process_is_not_checked(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 skips non-executable processes, problems and all; so does flowdesk.
    text = model('<bpmn:serviceTask id="Step" />', process="").replace(
        'isExecutable="true"', 'isExecutable="false"'
    )
    (tmp_path / "m.bpmn").write_text(text)

    engine.deploy(tmp_path / "m.bpmn")

    with pytest.raises(flowdesk.NotFound):
        engine.start("p")
