"""Deploy-time validation of BPMN and DMN files: each rule, its line and element id, the corpus."""

from __future__ import annotations

import collections
import pathlib

import pytest
from lxml import etree

from flowdesk.engine import validation
from flowdesk.errors import BpmnValidationError, Problem

DATA = pathlib.Path(__file__).parent / "data" / "validation"
CORPUS = pathlib.Path("/work/shared/corpus")

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def bpmn(body: str, *, executable: str | None = "true", roots: str = "") -> str:
    """A one-process BPMN file in Camunda Modeler's layout around `body`."""
    attribute = f' isExecutable="{executable}"' if executable is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}"\n'
        '    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
        '    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">\n'
        f"{roots}"
        f'  <bpmn:process id="p"{attribute}>\n'
        f"{body}"
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )


START = '    <bpmn:startEvent id="Start" />\n'


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` in the fixture text."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def check(text: str, file: str = "test.bpmn", **known) -> list[Problem]:
    tree = validation.parse_xml(text.encode(), file)
    if validation.kind_of(tree) == "dmn":
        return validation.validate_dmn(tree, file)
    return validation.validate_bpmn(tree, file, **known)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def assert_problem(text: str, element_id: str, needle: str, message: str, **known) -> Problem:
    """The text has exactly one problem, at `needle`'s line, for `element_id`, saying `message`."""
    problem = only(check(text, **known))
    assert problem.file == "test.bpmn"
    assert problem.line == line_of(text, needle)
    assert problem.element_id == element_id
    assert message in problem.message
    return problem


def read(name: str) -> tuple[str, list[Problem]]:
    text = (DATA / name).read_text()
    tree = validation.parse_xml(text.encode(), name)
    if validation.kind_of(tree) == "dmn":
        return text, validation.validate_dmn(tree, name)
    return text, validation.validate_bpmn(tree, name, known_decision_ids={"route_order"})


# --- parse_xml ------------------------------------------------------------------------------


def test_parse_xml__unclosed_tag_reports_the_line_lxml_stops_at():
    source = (DATA / "unclosed_tag.bpmn").read_bytes()

    with pytest.raises(BpmnValidationError) as caught:
        validation.parse_xml(source, "unclosed_tag.bpmn")

    error = caught.value
    assert (error.file, error.line, error.element_id) == ("unclosed_tag.bpmn", 6, None)
    assert "malformed XML" in str(error)
    assert "startEvent line 4" in error.problems[0].message


def test_parse_xml__truncated_file_reports_its_end():
    source = b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'">\n'

    with pytest.raises(BpmnValidationError) as caught:
        validation.parse_xml(source, "cut.bpmn")

    assert caught.value.line == 3


def test_parse_xml__empty_file_is_malformed():
    with pytest.raises(BpmnValidationError) as caught:
        validation.parse_xml(b"", "empty.bpmn")

    assert caught.value.line == 1
    assert "Document is empty" in str(caught.value)


def test_parse_xml__other_root_is_rejected():
    source = b'<?xml version="1.0"?>\n<html id="page"><body/></html>\n'

    with pytest.raises(BpmnValidationError) as caught:
        validation.parse_xml(source, "page.html")

    assert (caught.value.line, caught.value.element_id) == (2, "page")
    assert "not BPMN 2.0 definitions" in str(caught.value)


def test_parse_xml__bpmn_element_outside_definitions_is_rejected():
    source = f'<bpmn:process xmlns:bpmn="{BPMN_NS}" id="p"/>'.encode()

    with pytest.raises(BpmnValidationError):
        validation.parse_xml(source, "p.bpmn")


def test_parse_xml__external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    source = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE d [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d">\n'
        "  <bpmn:documentation>&leak;</bpmn:documentation>\n"
        "</bpmn:definitions>\n"
    ).encode()

    tree = validation.parse_xml(source, "xxe.bpmn")

    assert "TOP-SECRET" not in etree.tostring(tree).decode()


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20151101/dmn11.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/DMN13.xsd",
        "https://www.omg.org/spec/DMN/20211108/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    ],
)
def test_kind_of__dmn_1_1_to_1_5_are_dmn(namespace):
    source = f'<definitions xmlns="{namespace}" id="d"><decision id="x"/></definitions>'

    tree = validation.parse_xml(source.encode(), "d.dmn")

    assert validation.kind_of(tree) == "dmn"
    assert validation.decision_ids(tree) == ["x"]


def test_kind_of__bpmn_with_any_prefix_is_bpmn():
    tree = validation.parse_xml((DATA / "collaboration.bpmn").read_bytes(), "c.bpmn")

    assert validation.kind_of(tree) == "bpmn"
    assert validation.decision_ids(tree) == []


# --- what a file offers and needs -----------------------------------------------------------


def test_process_ids__maps_each_process_to_executable():
    text = bpmn(START, roots='  <bpmn:process id="notes" isExecutable="false" />\n')
    text = text.replace("</bpmn:definitions>", '<bpmn:process id="bare" /></bpmn:definitions>')

    tree = validation.parse_xml(text.encode(), "test.bpmn")

    # No isExecutable counts as executable, as in Camunda 7.
    assert validation.process_ids(tree) == {"notes": False, "p": True, "bare": True}


def test_called_elements__lists_static_names_with_id_and_line():
    text = bpmn(
        START
        + '    <bpmn:callActivity id="Call_static" calledElement=" billing " />\n'
        + '    <bpmn:callActivity id="Call_dynamic" calledElement="${target}" />\n'
        + '    <bpmn:callActivity id="Call_none" />\n'
    )

    tree = validation.parse_xml(text.encode(), "test.bpmn")

    assert validation.called_elements(tree) == [
        ("billing", "Call_static", line_of(text, 'id="Call_static"'))
    ]


def test_decision_refs__lists_static_refs_with_id_and_line():
    text = bpmn(
        START
        + '    <bpmn:businessRuleTask id="Rule_static" camunda:decisionRef="route" />\n'
        + '    <bpmn:businessRuleTask id="Rule_dynamic" camunda:decisionRef="${which}" />\n'
    )

    tree = validation.parse_xml(text.encode(), "test.bpmn")

    assert validation.decision_refs(tree) == [
        ("route", "Rule_static", line_of(text, 'id="Rule_static"'))
    ]


# --- valid files ----------------------------------------------------------------------------


def test_validate_bpmn__valid_camunda_file_has_no_problems():
    _, problems = read("valid.bpmn")

    assert problems == []


def test_validate_bpmn__collaboration_with_bpmn2_prefix_has_no_problems():
    _, problems = read("collaboration.bpmn")

    assert problems == []


def test_validate_dmn__valid_file_has_no_problems():
    _, problems = read("valid.dmn")

    assert problems == []


def test_validate_bpmn__dmn_tree_is_refused():
    tree = validation.parse_xml((DATA / "valid.dmn").read_bytes(), "valid.dmn")

    with pytest.raises(ValueError, match="validate_dmn"):
        validation.validate_bpmn(tree, "valid.dmn")


# --- several problems -----------------------------------------------------------------------


def test_validate_bpmn__reports_every_problem_in_line_order():
    text, problems = read("many_problems.bpmn")

    found = [(p.line, p.element_id) for p in problems]
    assert found == [
        (line_of(text, 'id="broken"'), "broken"),
        (line_of(text, 'id="Flow_1"'), "Flow_1"),
        (line_of(text, 'id="Gateway_x"'), "Gateway_x"),
        (line_of(text, "<bpmn:conditionExpression>"), "Flow_2"),
        (line_of(text, 'id="Script_1"'), "Script_1"),
        (line_of(text, "<bpmn:timeDuration>"), "Wait_1"),
        (text.count("\n", 0, text.rindex('id="Task_1"')) + 1, "Task_1"),
    ]
    assert {p.file for p in problems} == {"many_problems.bpmn"}
    messages = [p.message for p in problems]
    assert messages[1] == "sequence flow 'Flow_1' targets 'Task_9', which does not exist"


def test_bpmn_validation_error__carries_all_problems_and_the_first_location():
    _, problems = read("many_problems.bpmn")

    error = BpmnValidationError(problems)

    assert len(error.problems) == 7
    assert (error.file, error.line, error.element_id) == ("many_problems.bpmn", 3, "broken")


# --- ids and references ---------------------------------------------------------------------


def test_duplicate_ids__are_reported_at_the_repeat():
    text = bpmn(START + '    <bpmn:task id="Start" />\n')

    problem = assert_problem(text, "Start", '<bpmn:task id="Start"', "used more than once")
    assert f"first on line {line_of(text, 'startEvent id=')}" in problem.message


def test_duplicate_ids__extension_elements_may_repeat_them():
    form = (
        "      <bpmn:extensionElements><camunda:formData>\n"
        '        <camunda:formField id="amount" type="long" />\n'
        "      </camunda:formData></bpmn:extensionElements>\n"
    )
    text = bpmn(
        START
        + f'    <bpmn:userTask id="Ask_1">\n{form}    </bpmn:userTask>\n'
        + f'    <bpmn:userTask id="Ask_2">\n{form}    </bpmn:userTask>\n'
    )

    assert check(text) == []


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        (
            '<bpmn:sequenceFlow id="Flow_1" sourceRef="Ghost" targetRef="Start" />',
            "sequence flow 'Flow_1' starts at 'Ghost', which does not exist",
        ),
        (
            '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task_9" />',
            "sequence flow 'Flow_1' targets 'Task_9', which does not exist",
        ),
        (
            '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start" />',
            "sequence flow 'Flow_1' has no targetRef",
        ),
    ],
)
def test_sequence_flow__dangling_ref_is_named(flow, message):
    text = bpmn(START + f"    {flow}\n")

    problem = assert_problem(text, "Flow_1", 'id="Flow_1"', message)
    assert problem.message == message


def test_sequence_flow__into_another_container_is_dangling():
    text = bpmn(
        START
        + '    <bpmn:sequenceFlow id="Flow_in" sourceRef="Start" targetRef="Inner_task" />\n'
        + '    <bpmn:subProcess id="Sub">\n'
        + '      <bpmn:startEvent id="Inner_start" />\n'
        + '      <bpmn:sequenceFlow id="Inner_flow" sourceRef="Inner_start"'
        + ' targetRef="Inner_task" />\n'
        + '      <bpmn:task id="Inner_task" />\n'
        + "    </bpmn:subProcess>\n"
    )

    assert_problem(
        text,
        "Flow_in",
        'id="Flow_in"',
        "targets 'Inner_task', which is not a flow node of the same process 'p'",
    )


def test_incoming_outgoing__naming_no_flow_is_ignored_as_camunda_ignores_it():
    # Camunda 7 builds the flows from the sequenceFlow elements alone; a stale
    # <bpmn:outgoing> left by a modeler changes nothing.
    text = bpmn(
        '    <bpmn:startEvent id="Start">\n'
        "      <bpmn:outgoing>Flow_gone</bpmn:outgoing>\n"
        "    </bpmn:startEvent>\n"
    )

    assert check(text) == []


@pytest.mark.parametrize(
    ("definition", "kind"),
    [
        ('<bpmn:messageEventDefinition id="D" messageRef="Message_9" />', "message"),
        ('<bpmn:signalEventDefinition id="D" signalRef="Signal_9" />', "signal"),
        ('<bpmn:escalationEventDefinition id="D" escalationRef="Escalation_9" />', "escalation"),
    ],
)
def test_event_definition__ref_to_missing_root_element_is_reported(definition, kind):
    text = bpmn(
        START + f'    <bpmn:intermediateCatchEvent id="Catch">\n      {definition}\n'
        "    </bpmn:intermediateCatchEvent>\n"
    )

    assert_problem(text, "Catch", 'id="D"', f"refers to {kind} '")


def test_event_definition__qname_ref_and_missing_optional_ref_are_fine():
    text = bpmn(
        START
        + '    <bpmn:intermediateCatchEvent id="Catch">\n'
        + '      <bpmn:messageEventDefinition id="D1" messageRef="tns:Message_1" />\n'
        + "    </bpmn:intermediateCatchEvent>\n"
        + '    <bpmn:boundaryEvent id="Catch_all" attachedToRef="Catch">\n'
        + '      <bpmn:errorEventDefinition id="D2" />\n'
        + "    </bpmn:boundaryEvent>\n",
        roots='  <bpmn:message id="Message_1" name="one" />\n',
    )

    assert check(text) == []


def test_error_ref__naming_no_error_is_fine_since_camunda_reads_it_as_the_code():
    text = bpmn(
        START
        + '    <bpmn:boundaryEvent id="Caught" attachedToRef="Start">\n'
        + '      <bpmn:errorEventDefinition id="D" errorRef="LIMIT_EXCEEDED" />\n'
        + "    </bpmn:boundaryEvent>\n"
        + '    <bpmn:endEvent id="Thrown">\n'
        + '      <bpmn:errorEventDefinition id="D2" errorRef="LIMIT_EXCEEDED" />\n'
        + "    </bpmn:endEvent>\n"
    )

    assert check(text) == []


def test_receive_task__message_ref_must_exist():
    text = bpmn(START + '    <bpmn:receiveTask id="Receive" messageRef="Message_9" />\n')

    assert_problem(text, "Receive", 'id="Receive"', "refers to message 'Message_9'")


# --- gateways and start events --------------------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "reason"),
    [
        ("exclusiveGateway", "Camunda 7 refuses it"),
        ("eventBasedGateway", "no way out"),
        ("complexGateway", "no way out"),
    ],
)
def test_gateway__without_outgoing_flow_is_reported(gateway, reason):
    text = bpmn(
        START
        + '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Gateway_x" />\n'
        + f'    <bpmn:{gateway} id="Gateway_x" />\n'
    )

    problem = assert_problem(text, "Gateway_x", 'id="Gateway_x"', reason)
    assert problem.message.startswith("gateway 'Gateway_x' has no outgoing sequence flow")


@pytest.mark.parametrize("gateway", ["inclusiveGateway", "parallelGateway"])
def test_gateway__parallel_or_inclusive_without_outgoing_flow_ends_its_path(gateway):
    # Camunda 7 ends the path there (ParallelGatewayTest.testCompletingJoin).
    text = bpmn(
        START
        + '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Gateway_x" />\n'
        + f'    <bpmn:{gateway} id="Gateway_x" />\n'
    )

    assert check(text) == []


def test_executable_process__without_start_event_is_reported():
    text = bpmn('    <bpmn:task id="Task_1" />\n')

    problem = assert_problem(text, "p", '<bpmn:process id="p"', "has no start event")
    assert problem.message.startswith("executable process 'p' has no start event")
    assert "Camunda 7 refuses it" in problem.message


def test_executable_process__event_subprocess_start_does_not_count():
    text = bpmn(
        '    <bpmn:subProcess id="Events" triggeredByEvent="true">\n'
        '      <bpmn:startEvent id="Event_start"><bpmn:timerEventDefinition>\n'
        "        <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>\n"
        "      </bpmn:startEvent>\n"
        "    </bpmn:subProcess>\n"
    )

    assert_problem(text, "p", '<bpmn:process id="p"', "executable process 'p' has no start")


def test_executable_process__without_is_executable_needs_a_start_event():
    text = bpmn('    <bpmn:task id="Task_1" />\n', executable=None)

    assert_problem(text, "p", '<bpmn:process id="p"', "executable process 'p'")


def test_embedded_subprocess__without_start_event_is_reported():
    text = bpmn(
        START + '    <bpmn:subProcess id="Sub">\n      <bpmn:task id="T" />\n'
        "    </bpmn:subProcess>\n"
    )

    assert_problem(text, "Sub", 'id="Sub"', "sub-process 'Sub' has no start event")


def test_ad_hoc_subprocess__needs_no_start_event():
    text = bpmn(
        START + '    <bpmn:adHocSubProcess id="Sub"><bpmn:task id="T" /></bpmn:adHocSubProcess>\n'
    )

    assert check(text) == []


def test_non_executable_process__is_checked_for_structure_only():
    text = bpmn(
        '    <bpmn:exclusiveGateway id="Gateway_x" />\n'
        '    <bpmn:callActivity id="Call_1" calledElement="nowhere" />\n'
        '    <bpmn:scriptTask id="Script_1" scriptFormat="groovy" />\n'
        '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Gateway_x" targetRef="Call_1">\n'
        "      <bpmn:conditionExpression>${amount &gt;}</bpmn:conditionExpression>\n"
        "    </bpmn:sequenceFlow>\n"
        '    <bpmn:sequenceFlow id="Flow_2" sourceRef="Call_1" targetRef="Task_9" />\n',
        executable="false",
    )

    assert_problem(text, "Flow_2", 'id="Flow_2"', "targets 'Task_9', which does not exist")


# --- calls and decisions --------------------------------------------------------------------


def test_call_activity__unknown_process_is_no_problem_camunda_resolves_it_when_run():
    text = bpmn(START + '    <bpmn:callActivity id="Call_1" calledElement="billing" />\n')

    assert check(text) == []


@pytest.mark.parametrize(
    ("called", "known"),
    [("billing", {"billing"}), ("p", set()), ("${target}", set()), ("#{target}", set())],
)
def test_call_activity__known_local_or_dynamic_process_is_fine(called, known):
    text = bpmn(START + f'    <bpmn:callActivity id="Call_1" calledElement="{called}" />\n')

    assert check(text, known_process_ids=known) == []


def test_call_activity__without_called_element_is_reported():
    text = bpmn(START + '    <bpmn:callActivity id="Call_1" />\n')

    assert_problem(text, "Call_1", 'id="Call_1"', "has no calledElement")


def test_call_activity__calling_a_non_executable_process_is_reported():
    text = bpmn(
        START + '    <bpmn:callActivity id="Call_1" calledElement="notes" />\n',
        roots='  <bpmn:process id="notes" isExecutable="false" />\n',
    )

    assert_problem(text, "Call_1", 'id="Call_1"', 'isExecutable="false"')


def test_business_rule_task__unknown_decision_is_reported():
    text = bpmn(START + '    <bpmn:businessRuleTask id="Rule_1" camunda:decisionRef="route" />\n')

    assert_problem(text, "Rule_1", 'id="Rule_1"', "evaluates decision 'route', which is not")


@pytest.mark.parametrize(("ref", "known"), [("route", {"route"}), ("${which}", set())])
def test_business_rule_task__known_or_dynamic_decision_is_fine(ref, known):
    text = bpmn(START + f'    <bpmn:businessRuleTask id="Rule_1" camunda:decisionRef="{ref}" />\n')

    assert check(text, known_decision_ids=known) == []


# --- expressions ----------------------------------------------------------------------------


def flow_with_condition(condition: str, attributes: str = "") -> str:
    return bpmn(
        START
        + '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="End">\n'
        + f"      <bpmn:conditionExpression{attributes}>{condition}</bpmn:conditionExpression>\n"
        + "    </bpmn:sequenceFlow>\n"
        + '    <bpmn:endEvent id="End" />\n'
    )


@pytest.mark.parametrize(
    "condition",
    ["${amount &gt; 1000}", "#{approved}", "  amount &gt; 1000  ", "${a &amp;&amp; !b}"],
)
def test_condition__juel_or_python_is_fine(condition):
    assert check(flow_with_condition(condition)) == []


@pytest.mark.parametrize("condition", ["${amount &gt;}", "amount &gt;", "=approved"])
def test_condition__untranslatable_is_reported(condition):
    text = flow_with_condition(condition)

    assert_problem(text, "Flow_1", "<bpmn:conditionExpression", "cannot be translated")


def test_condition__feel_gets_a_hint():
    problem = only(check(flow_with_condition("=approved")))

    assert "FEEL" in problem.message


def test_condition__empty_is_reported():
    text = flow_with_condition("  ")

    assert_problem(
        text, "Flow_1", "<bpmn:conditionExpression", "conditionExpression of 'Flow_1' is empty"
    )


def test_condition__script_language_is_reported():
    text = flow_with_condition("amount > 1", ' language="groovy"')

    problem = assert_problem(text, "Flow_1", "<bpmn:conditionExpression", "written in 'groovy'")
    assert "Groovy is a JVM script language flowdesk cannot run" in problem.message


def test_conditional_event__untranslatable_condition_is_reported():
    text = bpmn(
        START
        + '    <bpmn:intermediateCatchEvent id="Wait_until">\n'
        + '      <bpmn:conditionalEventDefinition id="Cond_1">\n'
        + "        <bpmn:condition>${ready ==}</bpmn:condition>\n"
        + "      </bpmn:conditionalEventDefinition>\n"
        + "    </bpmn:intermediateCatchEvent>\n"
    )

    assert_problem(text, "Wait_until", "<bpmn:condition>", "condition of 'Wait_until'")


@pytest.mark.parametrize(
    ("element", "needle"),
    [
        ("<bpmn:loopCardinality>${n +}</bpmn:loopCardinality>", "<bpmn:loopCardinality>"),
        ("<bpmn:completionCondition>${done ==}</bpmn:completionCondition>", "<bpmn:completion"),
    ],
)
def test_multi_instance__untranslatable_expression_is_reported(element, needle):
    text = bpmn(
        START
        + '    <bpmn:userTask id="Review">\n'
        + f"      <bpmn:multiInstanceLoopCharacteristics>{element}"
        + "</bpmn:multiInstanceLoopCharacteristics>\n"
        + "    </bpmn:userTask>\n"
    )

    assert_problem(text, "Review", needle, "cannot be translated")


def test_multi_instance__untranslatable_collection_is_reported():
    text = bpmn(
        START
        + '    <bpmn:userTask id="Review">\n'
        + '      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${items.}" />\n'
        + "    </bpmn:userTask>\n"
    )

    assert_problem(text, "Review", "<bpmn:multiInstance", "camunda:collection of 'Review'")


@pytest.mark.parametrize(
    "attribute", ["assignee", "candidateUsers", "candidateGroups", "dueDate", "priority"]
)
def test_user_task__untranslatable_attribute_is_reported(attribute):
    text = bpmn(START + f'    <bpmn:userTask id="Review" camunda:{attribute}="${{a +}}" />\n')

    assert_problem(text, "Review", 'id="Review"', f"camunda:{attribute} of 'Review'")


def test_user_task__literal_and_mixed_attributes_are_fine():
    text = bpmn(
        START
        + '    <bpmn:userTask id="Review" camunda:assignee="demo" '
        + 'camunda:candidateGroups="sales, ${team}" camunda:priority="50" />\n'
    )

    assert check(text) == []


def test_activiti_namespace__attributes_are_checked_too():
    text = bpmn(
        START + '    <bpmn:userTask id="Review" xmlns:activiti="http://activiti.org/bpmn" '
        'activiti:assignee="${a +}" />\n'
    )

    assert_problem(text, "Review", 'id="Review"', "camunda:assignee of 'Review'")


# --- timers ---------------------------------------------------------------------------------


def timer(tag: str, text: str) -> str:
    return bpmn(
        '    <bpmn:startEvent id="Start">\n'
        + "      <bpmn:timerEventDefinition>\n"
        + f"        <bpmn:{tag}>{text}</bpmn:{tag}>\n"
        + "      </bpmn:timerEventDefinition>\n"
        + "    </bpmn:startEvent>\n"
    )


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        ("timeDate", "2026-01-01T10:00:00Z"),
        ("timeDate", "2036-11-14T11:12:22"),
        ("timeDate", "2026-01-01T10:00:00+02:00"),
        ("timeDate", "${dueDate}"),
        ("timeDate", "#{dueDate}"),
        ("timeDuration", "PT1H"),
        ("timeDuration", "P2D"),
        ("timeDuration", "P1Y2M10DT2H30M"),
        ("timeDuration", "PT0.5S"),
        ("timeDuration", "\n          PT1H\n        "),
        ("timeCycle", "R3/PT10M"),
        ("timeCycle", "R/PT1H"),
        ("timeCycle", "R2/2026-01-01T00:00:00Z/P1D"),
        ("timeCycle", "R/P1D/2026-12-31T00:00:00Z"),
        ("timeCycle", "0 0/5 * * * ?"),
        ("timeCycle", "0/5 0/1 * 1/1 * ?"),
        ("timeCycle", "0 15 10 ? * MON-FRI 2030"),
        ("timeCycle", "R${times}/PT1H"),
    ],
)
def test_timer__valid_text_is_fine(tag, text):
    assert check(timer(tag, text)) == []


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        ("timeDate", "tomorrow"),
        ("timeDate", "PT1H"),
        ("timeDate", "2026-13-01T10:00:00Z"),
        ("timeDuration", "P"),
        ("timeDuration", "PT"),
        ("timeDuration", "1H"),
        ("timeDuration", "2026-01-01T10:00:00Z"),
        ("timeCycle", "PT1H"),
        ("timeCycle", "R3"),
        ("timeCycle", "R3/2026-01-01T00:00:00Z"),
        ("timeCycle", "0 0/5 * * *"),
        ("timeCycle", "0 61 * * * ?"),
        ("timeCycle", "0 0 25 * * ?"),
    ],
)
def test_timer__invalid_text_is_reported(tag, text):
    source = timer(tag, text)

    problem = assert_problem(source, "Start", f"<bpmn:{tag}>", f"{tag} of 'Start' is {text!r}")
    assert "write" in problem.message


@pytest.mark.parametrize("tag", ["timeDate", "timeDuration", "timeCycle"])
def test_timer__empty_text_is_reported(tag):
    text = timer(tag, "   ")

    assert_problem(text, "Start", f"<bpmn:{tag}>", f"{tag} of 'Start' is empty")


@pytest.mark.parametrize("text", ['"PT0.01S"', "'PT5M'"])
def test_timer__quoted_literal_is_read_as_the_literal(text):
    assert check(timer("timeDuration", text)) == []


def test_timer__quoted_text_that_is_no_timer_is_still_reported():
    problem = only(check(timer("timeDuration", '"soon"')))

    assert "'soon'" in problem.message


def test_timer__untranslatable_expression_is_reported():
    text = timer("timeDate", "${due +}")

    assert_problem(text, "Start", "<bpmn:timeDate>", "timeDate of 'Start' cannot be translated")


def test_timer__without_definition_text_is_reported():
    text = bpmn(
        '    <bpmn:startEvent id="Start">\n'
        '      <bpmn:timerEventDefinition id="Timer_1" />\n'
        "    </bpmn:startEvent>\n"
    )

    assert_problem(text, "Start", 'id="Timer_1"', "has no timeDate, timeDuration or timeCycle")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("${later}", "expression"),
        ("  #{later} ", "expression"),
        ("R${n}/PT1H", "expression"),
        ("2026-01-01T10:00:00Z", "date"),
        ("2026-01-01", "date"),
        ("PT1H", "duration"),
        ("P2W", "duration"),
        (" P1Y2M10DT2H30M\n", "duration"),
        ("R3/PT10M", "cycle"),
        ("R/PT1H", "cycle"),
        ("R2/2026-01-01T00:00:00Z/P1D", "cycle"),
        ("0 0/5 * * * ?", "cron"),
        ("0 0 12 L * ?", "cron"),
        ("0 0 12 LW * ?", "cron"),
        ("0 0 12 15W * ?", "cron"),
        ("0 0 12 ? * 6L", "cron"),
        ("0 0 12 ? * FRI#3", "cron"),
        ("0 0 8-18/2 ? JAN,JUL MON-FRI", "cron"),
    ],
)
def test_timer_kind__recognises_each_kind(text, kind):
    assert validation.timer_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "P1W2D",
        "PT1.5H",
        "R3/",
        "R3/PT1H/PT2H",
        "* * * * *",
        "0 0 12 ? * 8",
        "0 0 12 * * MON",
        "0 0 12 ? * ?",
        "0 0 12 * * *",
        "0 0 0/0 * * ?",
    ],
)
def test_timer_kind__rejects_other_texts(text):
    with pytest.raises(ValueError, match="not an ISO 8601"):
        validation.timer_kind(text)


# --- scripts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script_format",
    ["python", "Python", "juel", "javascript", "JavaScript", "ECMAScript", "js", "graal.js"],
)
def test_script_task__supported_format_is_fine(script_format):
    text = bpmn(START + f'    <bpmn:scriptTask id="Script_1" scriptFormat="{script_format}" />\n')

    assert check(text) == []


def test_script_task__empty_format_is_refused_as_camunda_refuses_it():
    text = bpmn(START + '    <bpmn:scriptTask id="Script_1" scriptFormat="" />\n')

    assert_problem(text, "Script_1", 'id="Script_1"', "Script language is empty")


def test_script_task__without_format_is_fine():
    assert check(bpmn(START + '    <bpmn:scriptTask id="Script_1" />\n')) == []


@pytest.mark.parametrize(
    ("script_format", "named"),
    [("groovy", "Groovy"), ("Groovy", "Groovy"), ("jython", "Jython"), ("jruby", "JRuby")],
)
def test_script_task__jvm_language_is_reported_by_name_with_what_runs(script_format, named):
    text = bpmn(START + f'    <bpmn:scriptTask id="Script_1" scriptFormat="{script_format}" />\n')

    problem = assert_problem(text, "Script_1", 'id="Script_1"', f"script format {script_format!r}")
    assert f"{named} is a JVM script language flowdesk cannot run" in problem.message
    assert "flowdesk runs javascript (also js, ecmascript), python" in problem.message


def test_script_task__javascript_syntax_error_is_reported_at_its_line():
    text = bpmn(
        START
        + '    <bpmn:scriptTask id="Script_1" scriptFormat="javascript">\n'
        + "      <bpmn:script>var total = 1;\nvar broken = ;\n</bpmn:script>\n"
        + "    </bpmn:scriptTask>\n"
    )

    problem = assert_problem(text, "Script_1", "var broken = ;", "is not valid JavaScript")
    assert problem.message.startswith("script task 'Script_1' is not valid JavaScript: line 2:")


def test_condition__javascript_on_a_flow_is_fine_and_a_syntax_error_is_reported():
    fine = flow_with_condition("amount &gt; 1 &amp;&amp; !rush", ' language="javascript"')
    assert check(fine) == []
    text = flow_with_condition("amount &gt;", ' language="JavaScript"')

    problem = assert_problem(text, "Flow_1", "<bpmn:conditionExpression", "not valid JavaScript")
    assert "SyntaxError" in problem.message


def test_parallel_gateway__conditions_on_its_flows_are_not_a_problem():
    text = bpmn(
        START
        + '    <bpmn:sequenceFlow id="Flow_0" sourceRef="Start" targetRef="Fork" />\n'
        + '    <bpmn:parallelGateway id="Fork" />\n'
        + '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Fork" targetRef="End">\n'
        + "      <bpmn:conditionExpression>${ignored}</bpmn:conditionExpression>\n"
        + "    </bpmn:sequenceFlow>\n"
        + '    <bpmn:endEvent id="End" />\n'
    )

    assert check(text) == []


# --- DMN ------------------------------------------------------------------------------------


def test_validate_dmn__reports_each_rule_with_line_and_decision():
    text, problems = read("broken.dmn")
    first_table = line_of(text, 'id="table"')

    found = [(p.line, p.element_id, p.message) for p in problems]
    assert found == [
        (
            line_of(text, 'id="empty"'),
            "empty",
            "decision 'empty' has neither a decision table nor a literal expression",
        ),
        (
            line_of(text, 'href="#missing"'),
            "table",
            "decision 'table' requires '#missing', which is not a decision in this file "
            "(write '#' and the id of a decision here)",
        ),
        (
            line_of(text, 'id="DecisionTable_1"'),
            "table",
            "decision table of 'table' has hit policy 'SOMETIMES'; use one of ANY, COLLECT, "
            "FIRST, OUTPUT ORDER, PRIORITY, RULE ORDER, UNIQUE",
        ),
        (
            line_of(text, 'id="Rule_1"'),
            "table",
            "decision table of 'table': 'Rule_1' has 2 input entries but the table has "
            "1 input column",
        ),
        (
            line_of(text, 'id="Rule_2"'),
            "table",
            "decision table of 'table': 'Rule_2' has 0 output entries but the table has "
            "1 output column",
        ),
        (line_of(text, 'id="DecisionTable_2"'), "bare", "decision table of 'bare' has no output"),
        (
            line_of(text, 'id="table" name="Again"'),
            "table",
            f"id 'table' is used more than once (first on line {first_table}); "
            "ids must be unique in a file",
        ),
        (
            line_of(text, 'id="table" name="Again"'),
            "table",
            "decision 'table': a literal expression decision needs a <variable> with a name: "
            "its value is published under that name",
        ),
    ]
    assert {p.file for p in problems} == {"broken.dmn"}


@pytest.mark.parametrize("hit_policy", sorted(validation.HIT_POLICIES))
def test_validate_dmn__every_camunda_hit_policy_is_accepted(hit_policy):
    text = (
        (DATA / "valid.dmn").read_text().replace('hitPolicy="FIRST"', f'hitPolicy="{hit_policy}"')
    )

    assert check(text, "test.dmn") == []


def test_validate_dmn__bpmn_tree_is_refused():
    tree = validation.parse_xml((DATA / "valid.bpmn").read_bytes(), "valid.bpmn")

    with pytest.raises(ValueError, match="validate_bpmn"):
        validation.validate_dmn(tree, "valid.bpmn")


# --- real public files ----------------------------------------------------------------------


def corpus_files() -> list[pathlib.Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".bpmn", ".dmn"))


@pytest.fixture(scope="module")
def corpus():
    """Every corpus file validated as one deployment (calls and decisions resolve across it)."""
    files = corpus_files()
    if not files:
        pytest.skip(f"no corpus at {CORPUS}")
    trees = {p: validation.parse_xml(p.read_bytes(), str(p.relative_to(CORPUS))) for p in files}
    processes = {key for tree in trees.values() for key in validation.process_ids(tree)}
    decisions = {key for tree in trees.values() for key in validation.decision_ids(tree)}
    results = {}
    for path, tree in trees.items():
        name = str(path.relative_to(CORPUS))
        if validation.kind_of(tree) == "dmn":
            results[name] = validation.validate_dmn(tree, name)
        else:
            results[name] = validation.validate_bpmn(
                tree, name, known_process_ids=processes, known_decision_ids=decisions
            )
    return results


def test_corpus__every_file_validates_without_raising(corpus):
    counts = collections.Counter({name: len(problems) for name, problems in corpus.items()})
    print(f"\n{len(corpus)} corpus files, {sum(counts.values())} problems")
    for name, count in sorted(counts.items()):
        if count:
            print(f"  {count:3d}  {name}")
    assert all(isinstance(p, Problem) for problems in corpus.values() for p in problems)
    assert all(p.file == name for name, problems in corpus.items() for p in problems)


def test_corpus__camunda_7_files_only_fail_on_unsupported_script_formats(corpus):
    """The Camunda 7 projects' own files are real models: anything else is a false positive."""
    camunda = {
        name: problems
        for name, problems in corpus.items()
        if name.startswith(("camunda-examples/", "camunda-platform/"))
    }
    other = [
        str(p)
        for problems in camunda.values()
        for p in problems
        if "script format" not in p.message
    ]
    assert other == []
