"""FEEL as a BPMN script language: script tasks, sequence-flow conditions and parameters."""

from __future__ import annotations

import pytest
from conftest import DATA

import flowdesk


def _enter_prices(make_engine, variables):
    first = make_engine()
    first.deploy(DATA / "feel_scripts.bpmn")
    instance = first.start("feel_pricing", {"limit": 100})
    (task,) = first.tasks(instance_id=instance.id)
    # A new Engine runs the FEEL: the marked texts are read again from the stored file.
    return make_engine().complete(task.id, variables)


@pytest.mark.parametrize(
    ("prices", "discount", "total", "end"),
    [
        ([50, 70], 10, 108, "End_large"),
        ([50, 30], 0, 80, "End_small"),
        ([33.5, 0.25], 20, 27, "End_small"),
        ([60, 40], 0, 100, "End_large"),
    ],
)
def test_feel_script_task_and_conditions_steer_the_instance(
    make_engine, prices, discount, total, end
):
    instance = _enter_prices(make_engine, {"prices": prices, "discount": discount})

    assert instance.state == "completed"
    assert instance.variables["total"] == total
    assert instance.variables["label"] == f"order of {len(prices)} items"
    ends = [
        e.element_id
        for e in make_engine().history(instance.id)
        if e.element_id in ("End_large", "End_small")
    ]
    assert ends == [end]


def test_feel_script_that_cannot_compute_gives_null_and_a_null_condition_is_an_incident(
    make_engine,
):
    # FEEL Scala 1.17+: "ten" / 100 is null, so is the total; a condition on it is null,
    # and Camunda 7 fails on a null condition ("condition script returns null").
    instance = _enter_prices(make_engine, {"prices": [10], "discount": "ten"})

    assert instance.state == "incident"
    assert instance.variables["total"] is None
    assert "a FEEL condition must give true or false, not null" in (instance.incident or "")


def test_feel_condition_that_is_not_boolean_is_an_incident(make_engine, tmp_path):
    file = tmp_path / "feel_scripts.bpmn"
    file.write_text(
        (DATA / "feel_scripts.bpmn").read_text().replace("total &gt;= limit", "total + limit")
    )
    engine = make_engine()
    engine.deploy(file)
    instance = engine.start("feel_pricing", {"limit": 100})
    (task,) = engine.tasks(instance_id=instance.id)

    # Camunda 7: "condition script returns non-Boolean".
    after = engine.complete(task.id, {"prices": [1], "discount": 0})

    assert after.state == "incident"
    assert "a FEEL condition must give true or false, not a number" in (after.incident or "")


@pytest.mark.parametrize(
    ("old", "new", "element_id", "reason"),
    [
        (
            "<bpmn:script>sum(prices) * (1 - discount / 100)</bpmn:script>",
            "<bpmn:script>prices instance of list</bpmn:script>",
            "Task_total",
            "script of script task 'Task_total' (FEEL): 'prices instance of list' is not",
        ),
        (
            "total &gt;= limit</bpmn:conditionExpression>",
            "total &gt;=</bpmn:conditionExpression>",
            "Flow_large",
            "conditionExpression of 'Flow_large' (FEEL)",
        ),
        (
            '<camunda:script scriptFormat="feel">"order of "',
            '<camunda:script scriptFormat="feel">@"P1D" + "order of "',
            "Task_total",
            "camunda:script of parameter 'label' of 'Task_total' (FEEL)",
        ),
    ],
)
def test_feel_flowdesk_cannot_run_is_refused_at_deploy(
    engine, tmp_path, old, new, element_id, reason
):
    text = (DATA / "feel_scripts.bpmn").read_text()
    assert old in text
    file = tmp_path / "feel_scripts.bpmn"
    file.write_text(text.replace(old, new))

    with pytest.raises(flowdesk.BpmnValidationError) as raised:
        engine.deploy(file)

    (problem,) = raised.value.problems
    assert problem.element_id == element_id
    assert problem.line == text[: text.index(old)].count("\n") + 1
    assert reason in problem.message
    assert engine.definitions() == []
