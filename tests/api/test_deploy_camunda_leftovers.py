"""Camunda 7 constructs found in public models that flowdesk ignores or refuses at deploy.

Data stores are documentation to Camunda and flowdesk alike; a script flowdesk cannot run
(another language, an external resource) is refused at deploy with the element that holds it,
rather than failing when an instance reaches it.
"""

from __future__ import annotations

import pytest
from conftest import DATA

import flowdesk


def test_deploy__data_stores_and_their_associations_are_ignored(engine: flowdesk.Engine) -> None:
    engine.handlers.register_user_task(flowdesk.AutoCompleteHandler())
    engine.deploy(DATA / "data_store.bpmn")

    instance = engine.start("book_invoice")

    assert instance.state == "completed"
    assert instance.variables == {"balance": 100}


def test_deploy__parameter_script_in_another_language_is_rejected_naming_its_task(
    engine: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "script_languages.bpmn")

    messages = {p.element_id: p.message for p in caught.value.problems}
    assert messages["Check_score"] == (
        "camunda:script of parameter 'defaultScore' of 'Check_score': script format "
        "'groovy' is not supported (Groovy is a JVM script language flowdesk cannot run); "
        "flowdesk runs javascript (also js, ecmascript), python (flowdesk's sandboxed Python), "
        "juel and feel"
    )
    assert caught.value.problems[0].line == 16  # the camunda:script element
    assert engine.definitions() == []


def test_deploy__external_script_resource_is_rejected_naming_its_task(
    engine: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "script_languages.bpmn")

    messages = {p.element_id: p.message for p in caught.value.problems}
    assert messages["Archive"] == (
        "script task 'Archive': camunda:resource 'scripts/archive.py' names an external "
        "script, which flowdesk cannot load; write the script in the model"
    )


def test_deploy__listener_scripts_are_not_checked_since_listeners_do_not_run(
    engine: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "script_languages.bpmn")

    assert {p.element_id for p in caught.value.problems} == {"Check_score", "Archive"}


ACTIVITI = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:activiti="http://activiti.org/bpmn" id="D" targetNamespace="http://activiti.org">
  <process id="legacy" isExecutable="true">
    <startEvent id="S" />
    <serviceTask id="Charge" activiti:class="com.example.ChargeDelegate" />
    <userTask id="Review" activiti:assignee="${reviewer}" activiti:candidateGroups="finance" />
    <endEvent id="E" />
    <sequenceFlow id="F1" sourceRef="S" targetRef="Charge" />
    <sequenceFlow id="F2" sourceRef="Charge" targetRef="Review" />
    <sequenceFlow id="F3" sourceRef="Review" targetRef="E" />
  </process>
</definitions>
"""


def test_deploy__activiti_namespace_reads_as_camunda_as_in_camunda_7(
    engine: flowdesk.Engine, tmp_path
) -> None:
    engine.handlers.register_service("com.example.ChargeDelegate", lambda call: {"charged": 1})
    (tmp_path / "legacy.bpmn").write_text(ACTIVITI)
    engine.deploy(tmp_path / "legacy.bpmn")

    instance = engine.start("legacy", {"reviewer": "carol"})

    (task,) = engine.tasks(instance_id=instance.id)
    assert (task.assignee, task.candidate_groups) == ("carol", ("finance",))
    assert engine.instance(instance.id).variables == {"reviewer": "carol", "charged": 1}
