"""DMN files as Camunda 7 reads them: every namespace, tables without inputs, literal
expressions, camunda:inputVariable, required decisions and expression languages per cell."""

from __future__ import annotations

import pytest
from conftest import DATA

import flowdesk

VERSIONS = DATA / "dmn_versions"
CAMUNDA74 = "dish_v11_camunda74.dmn11.xml"


@pytest.fixture
def constructs(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "decisions_camunda_constructs.dmn")
    return engine


# --- namespaces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "key", "variables", "expected"),
    [
        # DMN 1.1, http://www.omg.org/spec/DMN/20151101/dmn.xsd
        ("dish_v11.dmn", "dish_v11", {"season": "Winter", "guestCount": 3}, "Roastbeef"),
        ("dish_v11.dmn", "dish_v11", {"season": "Fall", "guestCount": 3}, "Spareribs"),
        ("dish_v11.dmn", "dish_v11", {"season": "Fall", "guestCount": 12}, "Stew"),
        # DMN 1.1 as Camunda 7.4 wrote it, http://www.omg.org/spec/DMN/20151101/dmn11.xsd
        (CAMUNDA74, "dish_v11_74", {"season": "Fall", "guestCount": 3}, "Spareribs"),
        (CAMUNDA74, "dish_v11_74", {"season": "Summer", "guestCount": 30}, "Salad"),
        # DMN 1.2: a literal expression decision feeds a FIRST table
        ("dish_v12.dmn", "dish_v12", {"month": 12}, "Roastbeef"),
        ("dish_v12.dmn", "dish_v12", {"month": 6}, "Salad"),
        # DMN 1.3, 1.4, 1.5: a COLLECT table feeds a literal expression as a list
        ("dish_v13.dmn", "dish_v13", {"guestCount": 2}, "Plate"),
        ("dish_v13.dmn", "dish_v13", {"guestCount": 6}, "Menu"),
        ("dish_v14.dmn", "dish_v14", {"guestCount": 2}, "Plate"),
        ("dish_v14.dmn", "dish_v14", {"guestCount": 6}, "Menu"),
        ("dish_v15.dmn", "dish_v15", {"guestCount": 2}, "Plate"),
        ("dish_v15.dmn", "dish_v15", {"guestCount": 6}, "Menu"),
    ],
)
def test_each_dmn_namespace_deploys_and_evaluates(engine, file, key, variables, expected):
    deployed = engine.deploy(VERSIONS / file)

    assert key in [d.key for d in deployed]
    result = engine.evaluate_decision(key, variables)
    assert isinstance(result, dict)
    assert result["dish"] == expected


def test_dmn11_camunda74_form__juel_cells_and_boolean_outputs(engine):
    engine.deploy(VERSIONS / "dish_v11_camunda74.dmn11.xml")

    # rule1: a JUEL input entry without ${...} reads the column's inputVariable; ${true}.
    assert engine.evaluate_decision("dish_v11_74", {"season": "Fall", "guestCount": 8}) == {
        "dish": "Spareribs",
        "hot": True,
    }
    # rule2: the text "true" converted by typeRef boolean.
    assert engine.evaluate_decision("dish_v11_74", {"season": "Winter", "guestCount": 9}) == {
        "dish": "Roastbeef",
        "hot": True,
    }
    assert engine.evaluate_decision("dish_v11_74", {"season": "Fall", "guestCount": 9}) is None


def test_required_collect_table_is_a_list_for_the_decision_that_requires_it(engine):
    engine.deploy(VERSIONS / "dish_v13.dmn")

    assert engine.evaluate_decision("sides_v13", {"guestCount": 6}) == [
        {"side": "bread"},
        {"side": "salad"},
    ]
    assert engine.evaluate_decision("sides_v13", {"guestCount": 1}) == [{"side": "bread"}]


def test_unknown_namespace_is_refused_naming_the_dmn_versions(engine, tmp_path):
    file = tmp_path / "future.dmn"
    file.write_text(
        (VERSIONS / "dish_v13.dmn")
        .read_text()
        .replace("https://www.omg.org/spec/DMN/20191111/MODEL/", "https://example.org/DMN/9/")
    )

    with pytest.raises(flowdesk.BpmnValidationError) as raised:
        engine.deploy(file)

    (problem,) = raised.value.problems
    assert problem.line == 4
    assert "DMN 1.1 to 1.5" in problem.message
    assert engine.definitions() == []


# --- tables without inputs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("config_unique", {"region": "EU", "limit": 5000}),
        ("config_first", {"region": "EU", "limit": 5000}),
        ("config_any", {"region": "EU", "limit": 5000}),
        (
            "config_collect",
            [{"region": "EU", "limit": 5000}, {"region": "US"}, {"region": "APAC", "limit": 6}],
        ),
        ("config_rule_order", [{"region": "EU", "limit": 1}, {"region": "US", "limit": 2}]),
        ("config_sum", {"limit": 12500}),
        ("config_count", {"limit": 3}),
        ("config_none", None),
    ],
)
def test_table_without_inputs_matches_every_rule(constructs, key, expected):
    assert constructs.evaluate_decision(key, {"limit": 3}) == expected


def test_table_without_inputs_and_two_rules_violates_unique(constructs):
    with pytest.raises(flowdesk.DecisionError) as raised:
        constructs.evaluate_decision("config_unique_two", {})

    assert raised.value.decision_id == "config_unique_two"
    assert "2 match" in raised.value.reason


# --- literal expressions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "variables", "expected"),
    [
        # JUEL without ${...} is wrapped, as Camunda does; typeRef integer from the variable.
        ("doubled_juel", {"amount": 21}, {"doubled": 42}),
        ("large_juel", {"amount": 101}, {"large": True}),
        ("large_juel", {"amount": 100}, {"large": False}),
        # The variable's typeRef (string) converts, not the literalExpression's; FEEL gives
        # a whole number as an integer, as the FEEL Scala engine does.
        ("price_feel", {"amount": 7}, {"price": "10.5"}),
        ("price_feel", {"amount": 10}, {"price": "15"}),
    ],
)
def test_literal_expression_decision(constructs, key, variables, expected):
    assert constructs.evaluate_decision(key, variables) == expected


def test_the_one_output_of_a_table_may_have_no_name(constructs):
    # Camunda keys its value null; flowdesk "" (no variable can hold a null key).
    result = constructs.evaluate_decision(
        "unnamed_limit", {"config": {"region": "EU", "limit": 5000}}
    )

    assert result == [{"": 4000}, {"": 100}]


def test_input_expression_without_text_is_null(constructs):
    result = constructs.evaluate_decision("empty_input", {"status": "gold"})

    assert result == [{"result": "null"}, {"result": "any"}]


# --- camunda:inputVariable and languages per cell -----------------------------------------


@pytest.mark.parametrize(
    ("amount", "items", "expected"),
    [
        (150, 3, ["big (feel)", "big (juel)"]),
        (150, 2, []),
        (80, 5, ["small"]),
    ],
)
def test_input_variable_names_the_value_in_feel_and_juel_entries(
    constructs, amount, items, expected
):
    result = constructs.evaluate_decision("order_size", {"amount": amount, "items": items})

    assert isinstance(result, list)
    assert [entry["size"] for entry in result] == expected


def test_definitions_expression_language_is_every_cells_default(engine):
    engine.deploy(DATA / "decisions_juel_default.dmn")

    heavy = engine.evaluate_decision("shipping_juel", {"parcel": {"weight": 25}})
    light = engine.evaluate_decision("shipping_juel", {"parcel": {"weight": 2}})

    assert heavy == {"carrier": "freight", "fee": 50.0}
    # The cells that name FEEL (by namespace and by "feel") are FEEL.
    assert light == {"carrier": "post", "fee": 6.5}


def _constructs_with(tmp_path, old: str, new: str):
    text = (DATA / "decisions_camunda_constructs.dmn").read_text()
    assert old in text
    file = tmp_path / "changed.dmn"
    file.write_text(text.replace(old, new, 1))
    return file, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "element_id", "reason"),
    [
        (
            '<literalExpression id="doubled_juel_expression" expressionLanguage="juel">',
            '<literalExpression id="doubled_juel_expression" expressionLanguage="groovy">',
            "doubled_juel_expression",
            "expression language 'groovy'",
        ),
        (
            "<text>doubled &gt; 100</text>",
            "<text>doubled &gt; </text>",
            "risk_javascript_high_doubled",
            "is not valid JavaScript",
        ),
        (
            '<inputEntry id="order_size_big_juel_sum" expressionLanguage="juel">',
            '<inputEntry id="order_size_big_juel_sum" expressionLanguage="groovy">',
            "order_size_big_juel_sum",
            "expression language 'groovy'",
        ),
        (
            '<outputEntry id="order_size_big_juel_out" expressionLanguage="juel">',
            '<outputEntry id="order_size_big_juel_out" expressionLanguage="python">',
            "order_size_big_juel_out",
            "expression language 'python'",
        ),
        (
            '<output id="config_first_limit" label="limit" name="limit"',
            '<output id="config_first_limit" label="limit" name="region"',
            "config_first_limit",
            "output name 'region' is used by two outputs",
        ),
        (
            '<output id="config_first_limit" label="limit" name="limit"',
            '<output id="config_first_limit" label="limit"',
            "config_first_limit",
            "each output of a table with several outputs needs one",
        ),
        (
            '<variable id="doubled_juel_variable" name="doubled" typeRef="integer" />',
            "",
            "doubled_juel",
            "needs a <variable> with a name",
        ),
    ],
)
def test_cells_flowdesk_cannot_run_are_refused_at_deploy(
    engine, tmp_path, old, new, element_id, reason
):
    file, line = _constructs_with(tmp_path, old, new)

    with pytest.raises(flowdesk.BpmnValidationError) as raised:
        engine.deploy(file)

    (problem,) = raised.value.problems
    assert (problem.file, problem.element_id) == (str(file), element_id)
    assert reason in problem.message
    if new:
        assert problem.line == line
    assert engine.definitions() == []


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (60, {"level": "high", "note": "amount 60"}),
        # `doubled` (100) is a number, not true: no match, as in Camunda.
        (50, {"level": "low"}),
    ],
)
def test_javascript_cells_as_camunda_runs_them(constructs, amount, expected):
    assert constructs.evaluate_decision("risk_javascript", {"amount": amount}) == expected


def test_javascript_literal_expression(constructs):
    assert constructs.evaluate_decision("tax_javascript", {"amount": 100, "country": "DE"}) == {
        "tax": 19.0
    }


# --- business rule tasks ------------------------------------------------------------------


def test_business_rule_tasks_evaluate_configuration_and_required_decisions(make_engine):
    first = make_engine()
    first.deploy(DATA / "decisions_camunda_constructs.dmn")
    first.deploy(VERSIONS / "dish_v13.dmn")
    first.deploy(DATA / "decisions_configuration.bpmn")

    menu = first.start("dinner_planning", {"guestCount": 6})
    # A new Engine continues as the first would have.
    second = make_engine()
    plate = second.start("dinner_planning", {"guestCount": 2})

    assert menu.variables["config"] == {"region": "EU", "limit": 5000}
    assert menu.variables["dish"] == "Menu"
    assert menu.variables["limits"] == [4000, 100]
    (task,) = second.tasks(instance_id=menu.id)
    assert task.element_id == "Task_cook_menu"
    assert second.complete(task.id, user="alice").state == "completed"
    assert plate.state == "completed"
    assert plate.variables["dish"] == "Plate"
    assert "End_plate" in [e.element_id for e in second.history(plate.id)]
