"""Deploying files: versions, idempotence, and errors that say where the problem is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import DATA, EXAMPLES, submit

import flowdesk


def test_deploy__returns_each_executable_process_at_version_1(engine: flowdesk.Engine) -> None:
    defs = engine.deploy(EXAMPLES / "expense_approval.bpmn")
    assert [(d.key, d.version, d.name) for d in defs] == [
        ("expense_approval", 1, "Expense approval")
    ]
    assert [d.key for d in engine.definitions()] == ["expense_approval"]


def test_deploy__unchanged_file_makes_no_new_version(engine: flowdesk.Engine) -> None:
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    again = engine.deploy(EXAMPLES / "expense_approval.bpmn")
    assert [(d.key, d.version) for d in again] == [("expense_approval", 1)]
    assert len(engine.definitions(all_versions=True)) == 1


def test_deploy__changed_file_makes_version_2_while_running_instances_stay_on_1(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    path = tmp_path / "expense.bpmn"
    shutil.copy(EXAMPLES / "expense_approval.bpmn", path)
    engine.deploy(path)
    old = engine.start("expense_approval", user="alice")
    path.write_text(path.read_text().replace('name="Submit expense"', 'name="Claim expense"'))

    (definition,) = engine.deploy(path)

    assert definition.version == 2
    new = engine.start("expense_approval", user="alice")
    assert engine.instance(old.id).version == 1
    assert engine.tasks(instance_id=old.id)[0].name == "Submit expense"
    assert new.version == 2
    assert engine.tasks(instance_id=new.id)[0].name == "Claim expense"
    submit(engine, old.id, 200)  # the old instance still runs on version 1's model
    assert engine.tasks(instance_id=old.id)[0].element_id == "Task_pay"


def test_deploy__folder_deploys_every_file_below_it(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLES / "expense_approval.bpmn", tmp_path / "a.bpmn")
    (tmp_path / "sub").mkdir()
    shutil.copy(DATA / "messages.bpmn", tmp_path / "sub" / "b.bpmn")
    keys = sorted(d.key for d in engine.deploy(tmp_path))
    assert keys == ["expense_approval", "order_intake", "quote"]


def test_deploy__malformed_xml_names_file_and_line(engine: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "malformed.bpmn")
    assert caught.value.file.endswith("malformed.bpmn")
    assert caught.value.line is not None and caught.value.line >= 4
    assert "malformed.bpmn:" in str(caught.value)
    assert engine.definitions() == []


def test_deploy__dangling_flow_names_file_line_and_element(engine: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "dangling.bpmn")
    error = caught.value
    assert error.file.endswith("dangling.bpmn")
    assert error.line == 7
    assert error.element_id == "Flow_dangling"
    assert "Task_missing" in str(error)
    assert engine.definitions() == []


def test_deploy__one_bad_file_in_a_folder_deploys_nothing(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLES / "expense_approval.bpmn", tmp_path / "good.bpmn")
    shutil.copy(DATA / "dangling.bpmn", tmp_path / "bad.bpmn")
    with pytest.raises(flowdesk.BpmnValidationError):
        engine.deploy(tmp_path)
    assert engine.definitions() == []


def test_deploy__unparseable_condition_is_rejected_with_its_flow(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    path = tmp_path / "bad_condition.bpmn"
    path.write_text(
        (EXAMPLES / "expense_approval.bpmn")
        .read_text()
        .replace("${amount &gt; 1000}", "${amount &gt;}")
    )
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(path)
    assert caught.value.element_id == "Flow_large"


def test_deploy__missing_path_raises_not_found(engine: flowdesk.Engine, tmp_path: Path) -> None:
    with pytest.raises(flowdesk.NotFound):
        engine.deploy(tmp_path / "nope.bpmn")


def test_start__unknown_process_raises_not_found(engine: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.NotFound):
        engine.start("nope")
