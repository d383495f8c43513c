"""DMN decisions through the Engine: evaluate_decision, business rule tasks, result mapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import DATA

import flowdesk

CORPUS = Path("/work/shared/corpus")


@pytest.fixture
def decisions(engine: flowdesk.Engine) -> flowdesk.Engine:
    for name in ("decisions_hit_policies.dmn", "decisions_graph.dmn", "decisions_route.dmn"):
        engine.deploy(DATA / name)
    return engine


def test_deploy__each_decision_of_a_file_is_a_decision_definition(engine):
    deployed = engine.deploy(DATA / "decisions_graph.dmn")
    assert [(d.key, d.kind, d.version) for d in deployed] == [
        ("shipping", "decision", 1),
        ("customer_level", "decision", 1),
        ("base_fee", "decision", 1),
    ]


@pytest.mark.parametrize(
    ("key", "variables", "expected"),
    [
        ("unique_grade", {"score": 85}, {"grade": "distinction"}),
        ("unique_grade", {"score": -3}, None),
        ("first_grade", {"score": 95}, {"grade": "distinction"}),
        ("priority_discount", {"amount": 5000}, {"level": "high", "percent": 20}),
        ("any_check", {"size": 25}, {"verdict": "ok"}),
        (
            "output_order_discount",
            {"amount": 5000},
            [
                {"level": "high", "percent": 20},
                {"level": "medium", "percent": 10},
                {"level": "low", "percent": 5},
            ],
        ),
        ("collect_tags", {"country": "FR", "amount": 10}, [{"tag": "eu", "weight": 1}]),
        ("rule_order_tags", {"country": "DE", "amount": 10}, [{"tag": "eu"}, {"tag": "home"}]),
        ("points_sum", {"items": 12}, {"points": 45}),
        ("points_min", {"items": 12}, {"points": 5}),
        ("points_max", {"items": 12}, {"points": 30}),
        ("points_count", {"items": 7}, {"points": 2}),
        ("greeting", {"name": "Ada"}, {"greeting": "Hello Ada"}),
    ],
)
def test_evaluate_decision__each_hit_policy(decisions, key, variables, expected):
    assert decisions.evaluate_decision(key, variables) == expected


def test_evaluate_decision__required_decisions_feed_the_decision(decisions):
    customer = {"since": "2023-05-01", "orders": 3}
    result = decisions.evaluate_decision(
        "shipping", {"customer": customer, "express": True, "weight": 12}
    )
    assert result == {"carrier": "courier", "fee": 19.0}


def test_evaluate_decision__unique_violation_is_a_decision_error(decisions):
    with pytest.raises(flowdesk.DecisionError) as raised:
        decisions.evaluate_decision("unique_grade", {"score": 95})
    assert raised.value.decision_id == "unique_grade"
    assert raised.value.element_id == "Unique_honours"


def test_evaluate_decision__unknown_key_or_version_is_not_found(decisions):
    with pytest.raises(flowdesk.NotFound):
        decisions.evaluate_decision("no_such_decision", {})
    with pytest.raises(flowdesk.NotFound):
        decisions.evaluate_decision("unique_grade", {"score": 1}, version=2)


def test_evaluate_decision__a_version_can_be_chosen(decisions, tmp_path):
    changed = tmp_path / "decisions_route.dmn"
    changed.write_text((DATA / "decisions_route.dmn").read_text().replace('"auto"', '"fast"'))
    decisions.deploy(changed)
    assert decisions.evaluate_decision("approval_route", {"amount": 1, "category": "x"}) == {
        "route": "fast"
    }
    assert decisions.evaluate_decision(
        "approval_route", {"amount": 1, "category": "x"}, version=1
    ) == {"route": "auto"}


@pytest.mark.parametrize(
    ("amount", "category", "route", "end"),
    [(500, "travel", "auto", "End_auto"), (2000, "travel", "auto", "End_auto")],
)
def test_business_rule_task__result_steers_the_gateway_to_the_end(
    decisions, amount, category, route, end
):
    decisions.deploy(DATA / "decisions_route.bpmn")
    instance = decisions.start("expense_routing", {"amount": amount, "category": category})
    assert instance.state == "completed"
    assert instance.variables["route"] == route
    assert end in [e.element_id for e in decisions.history(instance.id)]


def test_business_rule_task__result_steers_the_gateway_to_a_review(decisions):
    decisions.deploy(DATA / "decisions_route.bpmn")
    instance = decisions.start("expense_routing", {"amount": 2000, "category": "office"})
    assert instance.state == "running"
    assert instance.variables["route"] == "manual"
    (review,) = decisions.tasks(instance_id=instance.id)
    assert review.element_id == "Task_review"
    assert decisions.complete(review.id, user="bob").state == "completed"


def test_business_rule_task__history_records_the_decision_and_its_result(decisions):
    decisions.deploy(DATA / "decisions_route.bpmn")
    instance = decisions.start("expense_routing", {"amount": 2000, "category": "office"})

    (evaluated,) = [e for e in decisions.history(instance.id) if e.element_id == "Task_route"]
    assert evaluated.type == "activity_completed"
    assert evaluated.data["decision"] == "approval_route"
    assert evaluated.data["result"] == {"route": "manual"}


def test_business_rule_task__unique_violation_is_an_incident(decisions):
    decisions.deploy(DATA / "decisions_route.bpmn")
    instance = decisions.start("expense_routing", {"amount": 4500, "category": "gifts"})
    assert instance.state == "incident"
    assert "DecisionError" in (instance.incident or "")
    assert "Route_large" in (instance.incident or "")
    assert "route" not in instance.variables
    incidents = [e for e in decisions.history(instance.id) if e.type == "incident"]
    assert incidents and incidents[0].element_id == "Task_route"


def test_business_rule_task__result_variable_with_each_mapping(decisions):
    decisions.deploy(DATA / "decisions_mapping.bpmn")
    instance = decisions.start(
        "decision_mapping", {"country": "DE", "amount": 1500, "score": 95, "items": 12}
    )
    assert instance.state == "completed"
    variables = instance.variables
    assert variables["tagList"] == [
        {"tag": "eu", "weight": 1},
        {"tag": "big", "weight": 2},
        {"tag": "home"},
    ]
    assert variables["discount"] == {"level": "high", "percent": 20}
    assert variables["grade"] == "distinction"
    assert variables["tags"] == ["big", "eu", "home"]
    assert variables["points"] == 45


def test_business_rule_task__without_result_variable_merges_the_outputs(decisions):
    decisions.deploy(DATA / "decisions_mapping.bpmn")
    instance = decisions.start(
        "decision_mapping", {"country": "US", "amount": 50, "score": 10, "items": 1}
    )
    # Task_merge has no resultVariable: the OUTPUT ORDER list becomes one list per output.
    assert instance.variables["level"] == ["low"]
    assert instance.variables["percent"] == [5]


def test_business_rule_task__mapping_that_does_not_fit_is_an_incident(decisions):
    decisions.deploy(DATA / "decisions_mapping.bpmn")
    instance = decisions.start("decision_mapping_misfit", {"country": "DE", "amount": 1500})
    assert instance.state == "incident"
    assert "mapDecisionResult singleResult needs at most one matching rule" in (
        instance.incident or ""
    )


def _route_task(attributes: str) -> str:
    text = (DATA / "decisions_route.bpmn").read_text()
    return text.replace(
        'camunda:decisionRef="approval_route" camunda:mapDecisionResult="singleEntry"', attributes
    )


def test_business_rule_task__version_binding_uses_that_version(decisions, tmp_path):
    changed = tmp_path / "decisions_route.dmn"
    changed.write_text((DATA / "decisions_route.dmn").read_text().replace('"auto"', '"fast"'))
    decisions.deploy(changed)
    pinned = tmp_path / "pinned.bpmn"
    pinned.write_text(
        _route_task(
            'camunda:decisionRef="approval_route" camunda:decisionRefBinding="version" '
            'camunda:decisionRefVersion="1" camunda:mapDecisionResult="singleEntry"'
        )
    )
    decisions.deploy(pinned)
    instance = decisions.start("expense_routing", {"amount": 10, "category": "travel"})
    assert instance.variables["route"] == "auto"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            'camunda:decisionRef="approval_route" camunda:decisionRefBinding="version" '
            'camunda:decisionRefVersion="7"',
            "version 7 of decision 'approval_route', which is not deployed",
        ),
        (
            'camunda:decisionRef="approval_route" camunda:mapDecisionResult="firstEntry"',
            "camunda:mapDecisionResult 'firstEntry' is not one of",
        ),
        (
            'camunda:decisionRef="approval_route" camunda:decisionRefBinding="versionTag"',
            "camunda:decisionRefBinding 'versionTag' is not supported",
        ),
    ],
)
def test_business_rule_task__unsupported_settings_fail_the_deploy(
    decisions, tmp_path, attributes, message
):
    bad = tmp_path / "bad.bpmn"
    bad.write_text(_route_task(attributes))
    with pytest.raises(flowdesk.BpmnValidationError) as raised:
        decisions.deploy(bad)
    (problem,) = raised.value.problems
    assert problem.element_id == "Task_route"
    assert problem.line == 7
    assert message in problem.message


def test_deploy__untranslatable_cell_names_file_line_and_entry(engine, tmp_path):
    broken = tmp_path / "broken.dmn"
    broken.write_text((DATA / "decisions_route.dmn").read_text().replace("&lt; 1000", "== 1000", 1))
    with pytest.raises(flowdesk.BpmnValidationError) as raised:
        engine.deploy(broken)
    (problem,) = raised.value.problems
    assert (problem.file, problem.line, problem.element_id) == (str(broken), 17, "UnaryTests_0115")
    assert "'== 1000' is not a FEEL unary test flowdesk supports" in problem.message
    assert engine.definitions() == []


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="no /work/shared/corpus here")


@needs_corpus
def test_corpus__spiffworkflow_decision_merges_its_output(engine, tmp_path):
    for name in ("test_integer_decision.dmn", "ExclusiveGatewayIfElseAndDecision.bpmn"):
        shutil.copy(CORPUS / "spiffworkflow" / name, tmp_path / name)
    engine.deploy(tmp_path)
    assert engine.evaluate_decision("IntegerDecisionStringOutputTable", {"x": 7}) == {"y": "D"}
    instance = engine.start("Process_1", {"x": 4})
    assert (instance.state, instance.variables) == ("completed", {"x": 4, "y": "B"})


@needs_corpus
def test_corpus__camunda_invoice_assigns_approver_groups(engine, tmp_path):
    platform = CORPUS / "camunda-platform"
    engine.deploy(platform / "invoiceBusinessDecisions.dmn")
    assert engine.evaluate_decision(
        "invoice-assign-approver", {"amount": 100, "invoiceCategory": "Misc"}
    ) == [{"result": "accounting"}, {"result": "sales"}]
    assert engine.evaluate_decision(
        "invoiceClassification", {"amount": 600, "invoiceCategory": "Misc"}
    ) == {"invoiceClassification": "budget"}
    # invoice.v2.bpmn itself needs data stores SpiffWorkflow cannot run; its business rule
    # task is the same as this one.
    (tmp_path / "assign.bpmn").write_text(
        (DATA / "decisions_route.bpmn")
        .read_text()
        .replace(
            'camunda:resultVariable="route" camunda:decisionRef="approval_route" '
            'camunda:mapDecisionResult="singleEntry"',
            'camunda:resultVariable="approverGroups" camunda:decisionRef="invoice-assign-approver" '
            'camunda:mapDecisionResult="collectEntries"',
        )
        .replace('${route == "auto"}', "${approverGroups.size() == 2}")
        .replace('${route == "manual"}', "${approverGroups.size() != 2}")
    )
    engine.deploy(tmp_path / "assign.bpmn")
    instance = engine.start("expense_routing", {"amount": 100, "invoiceCategory": "Misc"})
    assert instance.state == "completed"
    assert instance.variables["approverGroups"] == ["accounting", "sales"]
