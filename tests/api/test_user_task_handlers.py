"""User-task handlers plugged in by the application: matching, hooks and built-ins."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, only_task, submit

import flowdesk


class Recorder(flowdesk.UserTaskHandler):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def on_create(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
        self.log.append(f"{self.name}:create:{task.element_id}")
        return None

    def on_complete(self, task: flowdesk.Task, data: Mapping[str, Any], user: str | None) -> None:
        self.log.append(f"{self.name}:complete:{task.element_id}:{user}")


def test_registry__most_specific_handler_wins() -> None:
    registry = flowdesk.HandlerRegistry()
    default, by_process, by_form, by_element = (flowdesk.UserTaskHandler() for _ in range(4))
    registry.register_user_task(default)
    registry.register_user_task(by_process, process_key="p")
    registry.register_user_task(by_form, form_key="f")
    registry.register_user_task(by_element, element_id="e")

    def pick(element_id: str, form_key: str | None, process_key: str = "p") -> object:
        return registry.user_task_handler(
            process_key=process_key, element_id=element_id, form_key=form_key
        )

    assert pick("e", "f") is by_element
    assert pick("x", "f") is by_form
    assert pick("x", None) is by_process
    assert pick("x", None, process_key="q") is default


def test_handler__hooks_run_on_create_and_on_complete(make_engine) -> None:
    log: list[str] = []
    engine = make_engine()
    engine.handlers.register_user_task(Recorder("process", log), process_key="expense_approval")
    engine.handlers.register_user_task(Recorder("form", log), form_key="expense/submit")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    submit(engine, instance.id, 5000)
    assert log == [
        "form:create:Task_submit",
        "form:complete:Task_submit:alice",
        "process:create:Task_approve",
    ]


def test_handler__on_create_sets_assignee_and_due(make_engine, clock) -> None:
    class Assign(flowdesk.UserTaskHandler):
        def on_create(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
            return {"assignee": "bob", "due": clock.now, "priority": 90}

    engine = make_engine()
    engine.handlers.register_user_task(Assign(), element_id="Task_approve")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    submit(engine, instance.id, 5000)
    task = only_task(engine, instance.id)
    assert (task.assignee, task.due, task.priority) == ("bob", clock.now, 90)


def test_handler__on_create_set_on_the_handler_itself_runs_too(make_engine) -> None:
    handler = flowdesk.UserTaskHandler()
    handler.on_create = lambda task: {"priority": 77}  # type: ignore[method-assign]
    engine = make_engine()
    engine.handlers.register_user_task(handler, element_id="Task_approve")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    submit(engine, instance.id, 5000)
    assert only_task(engine, instance.id).priority == 77


def test_handler__validate_refuses_data_and_nothing_changes(make_engine) -> None:
    class NoBigTravel(flowdesk.UserTaskHandler):
        def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
            if data["category"] == "travel" and data["amount"] > 10000:
                raise flowdesk.FormValidationError(task.id, {"amount": "travel over 10000"})

    engine = make_engine()
    engine.handlers.register_user_task(NoBigTravel(), element_id="Task_submit")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    with pytest.raises(flowdesk.FormValidationError) as caught:
        submit(engine, instance.id, 20000)
    assert caught.value.errors == {"amount": "travel over 10000"}
    assert only_task(engine, instance.id).element_id == "Task_submit"


def test_auto_complete_handler__runs_the_process_to_its_end(make_engine) -> None:
    engine = make_engine()
    engine.handlers.register_user_task(
        flowdesk.AutoCompleteHandler(
            {"amount": 4000, "description": "Simulated", "decision": "approve"}
        )
    )
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    assert instance.state == "completed"
    assert instance.variables["category"] == "travel"  # the first enum value
    completed = [e.element_id for e in engine.history(instance.id) if e.type == "task_completed"]
    assert completed == ["Task_submit", "Task_approve", "Task_pay"]


def test_console_handler__prompts_each_form_field(make_engine, monkeypatch) -> None:
    answers = iter(["900", "meals", "Client dinner"])
    monkeypatch.setattr("click.prompt", lambda *args, **kwargs: next(answers))
    engine = make_engine()
    engine.handlers.register_user_task(flowdesk.ConsoleHandler(), element_id="Task_submit")
    engine.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = engine.start("expense_approval", user="alice")
    assert instance.variables["amount"] == 900
    assert only_task(engine, instance.id).element_id == "Task_pay"


def test_entry_points__setup_functions_are_called_with_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "acme_flowdesk_plugin.py"
    package.write_text(
        textwrap.dedent("""
        def setup(registry):
            registry.register_service("acme", lambda call: {"acme": True})
    """)
    )
    dist = tmp_path / "acme_flowdesk_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-flowdesk-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[flowdesk.handlers]\nacme = acme_flowdesk_plugin:setup\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = flowdesk.HandlerRegistry()
    assert registry.load_entry_points() >= 1
    assert registry.service("acme") is not None
    sys.modules.pop("acme_flowdesk_plugin", None)
