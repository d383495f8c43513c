"""The `flowdesk` command line, driven through Click's CliRunner on a fresh database per test."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import flowdesk
from flowdesk.cli import main, parse_groups, parse_value, parse_variables

EXPENSE = Path(__file__).parents[2] / "examples" / "expense_approval.bpmn"
GROUPS = ["--groups", "alice=sales", "--groups", "bob=leadership;carol=finance"]
# The tests choose every setting themselves; a developer's shell must not leak into them.
CLEAN_ENV = {"FLOWDESK_DB": None, "FLOWDESK_GROUPS": None, "FLOWDESK_USER": None}
LONG_AGO = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def bpmn(process_id: str, body: str, *, roots: str = "") -> str:
    """A one-process BPMN file around `body`, laid out as Camunda Modeler writes it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}"\n'
        '    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
        f'    id="Definitions_{process_id}" targetNamespace="http://bpmn.io/schema/bpmn">\n'
        f"{roots}"
        f'  <bpmn:process id="{process_id}" isExecutable="true">\n'
        f"{body}"
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )


def through(element: str) -> str:
    """Start -> `element` (with id Step) -> End, the flows included."""
    return (
        '    <bpmn:startEvent id="Start" />\n'
        f"{element}"
        '    <bpmn:endEvent id="End" />\n'
        '    <bpmn:sequenceFlow id="Flow_in" sourceRef="Start" targetRef="Step" />\n'
        '    <bpmn:sequenceFlow id="Flow_out" sourceRef="Step" targetRef="End" />\n'
    )


MESSAGE_BPMN = bpmn(
    "awaiting_payment",
    through(
        '    <bpmn:intermediateCatchEvent id="Step">\n'
        '      <bpmn:messageEventDefinition messageRef="Message_paid" />\n'
        "    </bpmn:intermediateCatchEvent>\n"
    ),
    roots='  <bpmn:message id="Message_paid" name="payment_received" />\n',
)
TIMER_BPMN = bpmn(
    "wait_an_hour",
    through(
        '    <bpmn:intermediateCatchEvent id="Step">\n'
        "      <bpmn:timerEventDefinition>\n"
        '        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>\n'
        "      </bpmn:timerEventDefinition>\n"
        "    </bpmn:intermediateCatchEvent>\n"
    ),
)
SERVICE_BPMN = bpmn(
    "billing",
    through(
        '    <bpmn:serviceTask id="Step" name="Send bill"'
        ' camunda:class="com.example.BillingDelegate" />\n'
    ),
)
CHECKLIST_BPMN = bpmn(
    "checklist",
    through(
        '    <bpmn:userTask id="Step" name="Check the stock">\n'
        "      <bpmn:extensionElements>\n"
        "        <camunda:formData>\n"
        '          <camunda:formField id="complete" label="All there?" type="boolean"'
        ' defaultValue="true" />\n'
        '          <camunda:formField id="boxes" label="Boxes" type="long">\n'
        '            <camunda:validation><camunda:constraint name="required" />'
        "</camunda:validation>\n"
        "          </camunda:formField>\n"
        '          <camunda:formField id="counted_on" label="Counted on" type="date" />\n'
        "        </camunda:formData>\n"
        "      </bpmn:extensionElements>\n"
        "    </bpmn:userTask>\n"
    ),
)
DANGLING_BPMN = bpmn(
    "dangling",
    '    <bpmn:startEvent id="Start" />\n'
    '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task_missing" />\n',
)
UNCLOSED_BPMN = bpmn(
    "unclosed", '    <bpmn:startEvent id="Start">\n    <bpmn:endEvent id="End" />\n'
)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url):
    """Run `flowdesk --db <fresh database> --groups ... ARGS`; checks the exit code."""
    runner = CliRunner(env=CLEAN_ENV)

    def invoke(*args, input=None, exit_code=0, groups=True, env=None) -> Result:
        argv = ["--db", db_url, *(GROUPS if groups else []), *args]
        result = runner.invoke(main, argv, input=input, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback the user would have seen
        assert result.exit_code == exit_code, (
            f"flowdesk {' '.join(args)} -> {result.exit_code}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
def write(tmp_path):
    """Write a text file under tmp_path and return its path."""

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write_file


def as_json(result: Result):
    return json.loads(result.stdout)


@pytest.fixture
def started(cli):
    """Start an expense as alice; returns the instance dict (waiting at Task_submit)."""

    def start(business_key: str = "EXP-1") -> dict:
        cli("deploy", str(EXPENSE))
        return as_json(
            cli(
                "--json",
                "start",
                "expense_approval",
                "--user",
                "alice",
                "--business-key",
                business_key,
            )
        )

    return start


def open_task(cli, instance_id: str) -> dict:
    (task,) = as_json(cli("--json", "tasks", "--instance", instance_id))
    return task


@pytest.fixture
def awaiting_approval(cli, started):
    """An expense of 5000 submitted by alice: its one open task is Task_approve."""
    instance = started()
    submit = open_task(cli, instance["id"])
    cli(
        "complete",
        submit["id"],
        "--user",
        "alice",
        "--var",
        "amount=5000",
        "--var",
        "category=travel",
        "--var",
        "description=Flight to the customer",
    )
    return instance["id"]


# -- deploy and definitions -----------------------------------------------------------------------


def test_deploy__prints_the_definitions_and_is_idempotent(cli):
    first = cli("deploy", str(EXPENSE))
    assert "expense_approval" in first.stdout
    assert "Deployed 1 definition" in first.stdout
    again = as_json(cli("deploy", str(EXPENSE), "--json"))
    assert [(d["key"], d["version"]) for d in again] == [("expense_approval", 1)]


def test_deploy__missing_path_is_an_error(cli, tmp_path):
    result = cli("deploy", str(tmp_path / "nothing.bpmn"), exit_code=1)
    assert result.stderr.startswith("error: ")


def test_deploy__invalid_file_lists_its_problems_and_deploys_nothing(cli, write):
    path = write("dangling.bpmn", DANGLING_BPMN)
    result = cli("deploy", str(path), exit_code=1)
    assert "error: 1 problem" in result.stderr
    assert "[Flow_1]" in result.stderr
    assert as_json(cli("--json", "definitions")) == []


def test_deploy__missing_handler_is_a_warning_line(cli, write):
    result = cli("deploy", str(write("billing.bpmn", SERVICE_BPMN)))
    assert "warning: process 'billing': service task 'Step'" in result.stderr


def test_definitions__latest_or_all_versions(cli, write):
    cli("deploy", str(EXPENSE))
    changed = EXPENSE.read_text().replace('name="Expense approval"', 'name="Expense approval 2"')
    cli("deploy", str(write("expense_approval.bpmn", changed)))
    latest = as_json(cli("--json", "definitions"))
    assert [(d["key"], d["version"], d["name"]) for d in latest] == [
        ("expense_approval", 2, "Expense approval 2")
    ]
    every = cli("definitions", "--all")
    assert re.search(r"expense_approval\s+1\s+Expense approval\s", every.stdout)
    assert re.search(r"expense_approval\s+2\s+Expense approval 2\s", every.stdout)


def test_definitions__none_deployed(cli):
    assert "No process deployed." in cli("definitions").stdout


# -- start ----------------------------------------------------------------------------------------


def test_start__reads_var_values_as_json_else_text(cli):
    cli("deploy", str(EXPENSE))
    result = cli(
        "start",
        "expense_approval",
        "--json",
        "--business-key",
        "EXP-7",
        "--user",
        "alice",
        "--vars-json",
        '{"amount": 1, "tags": ["a"]}',
        "--var",
        "amount=120",
        "--var",
        "urgent=true",
        "--var",
        "rate=1.5",
        "--var",
        'code="0042"',
        "--var",
        "note=hello world",
        "--var",
        "empty=",
    )
    instance = as_json(result)
    assert instance["business_key"] == "EXP-7"
    assert instance["state"] == "running"
    assert instance["variables"] == {
        "amount": 120,
        "tags": ["a"],
        "urgent": True,
        "rate": 1.5,
        "code": "0042",
        "note": "hello world",
        "empty": "",
        "initiator": "alice",
    }
    assert datetime.fromisoformat(instance["started_at"]).tzinfo is not None


def test_start__prints_the_instance_and_its_first_task(cli):
    cli("deploy", str(EXPENSE))
    result = cli("--user", "alice", "start", "expense_approval")
    assert "Started expense_approval v1 as instance" in result.stdout
    assert "Submit expense" in result.stdout


def test_start__unknown_process_is_an_error(cli):
    result = cli("start", "no_such_process", exit_code=1)
    assert result.stderr.startswith("error: no ")
    assert "no_such_process" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--var", "no_equals_sign"],
        ["--var", "=value"],
        ["--vars-json", "[1]"],
        ["--vars-json", "{"],
    ],
)
def test_start__malformed_variables_are_usage_errors(cli, args):
    result = cli("start", "expense_approval", *args, exit_code=2)
    assert "Invalid value" in result.stderr


# -- tasks, claim, complete -----------------------------------------------------------------------


def test_tasks__filters(cli, awaiting_approval):
    table = cli("tasks").stdout
    assert "Approve expense" in table
    assert "group leadership" in table
    assert len(as_json(cli("--json", "tasks", "--group", "leadership"))) == 1
    assert as_json(cli("--json", "tasks", "--group", "finance")) == []
    assert as_json(cli("--json", "tasks", "--key", "other_process")) == []
    assert len(as_json(cli("--json", "tasks", "--business-key", "EXP-1"))) == 1
    assert as_json(cli("--json", "tasks", "--assignee", "alice")) == []
    done = as_json(cli("--json", "tasks", "--assignee", "alice", "--state", "completed"))
    assert [t["element_id"] for t in done] == ["Task_submit"]
    every = as_json(cli("--json", "tasks", "--instance", awaiting_approval, "--state", "all"))
    assert {(t["element_id"], t["state"]) for t in every} == {
        ("Task_submit", "completed"),
        ("Task_approve", "open"),
    }
    assert "STATE" in cli("tasks", "--state", "all").stdout
    assert "No cancelled tasks." in cli("tasks", "--state", "cancelled").stdout


def test_tasks__limit_and_offset_list_one_page_oldest_first(cli, started):
    for business_key in ("EXP-1", "EXP-2", "EXP-3"):
        started(business_key)
    every = [t["business_key"] for t in as_json(cli("--json", "tasks"))]
    assert sorted(every) == ["EXP-1", "EXP-2", "EXP-3"]

    first = as_json(cli("--json", "tasks", "--limit", "2"))
    rest = as_json(cli("--json", "tasks", "--limit", "2", "--offset", "2"))

    assert [t["business_key"] for t in first + rest] == every
    assert "No open tasks." in cli("tasks", "--offset", "3").stdout
    assert "Invalid value" in cli("tasks", "--limit", "-1", exit_code=2).stderr


def test_claim__by_a_candidate(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli("claim", task["id"], "--user", "bob")
    assert f"bob holds task {task['id']}" in result.stdout
    assert open_task(cli, awaiting_approval)["assignee"] == "bob"
    # claiming again is a no-op; the global --user works too
    assert as_json(cli("--json", "--user", "bob", "claim", task["id"]))["assignee"] == "bob"


def test_claim__needs_a_user(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli("claim", task["id"], exit_code=2)
    assert "claim needs --user" in result.stderr


def test_claim__by_a_non_candidate_is_refused(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli("claim", task["id"], "--user", "carol", exit_code=1)
    assert result.stderr.startswith("error: ")
    assert open_task(cli, awaiting_approval)["assignee"] is None


def test_complete__form_fields_given_as_text_are_converted_by_the_engine(cli, started):
    instance = started()
    task = open_task(cli, instance["id"])
    result = cli(
        "complete",
        task["id"],
        "--user",
        "alice",
        "--var",
        "amount=300",
        "--var",
        "category=meals",
        "--var",
        "description=123",  # a string field: stays text, although it parses as JSON
    )
    assert "Completed task" in result.stdout
    assert "Pay expense" in result.stdout  # the next task, via the gateway's default flow
    variables = as_json(cli("--json", "show", instance["id"]))["instance"]["variables"]
    assert variables["amount"] == 300
    assert variables["description"] == "123"


def test_complete__by_the_wrong_user_is_refused_and_the_task_stays_open(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli(
        "complete", task["id"], "--user", "carol", "--var", "decision=approve", exit_code=1
    )
    assert result.stderr == f"error: user 'carol' may not act on task '{task['id']}'\n"
    assert result.stdout == ""
    assert open_task(cli, awaiting_approval)["id"] == task["id"]
    assert as_json(cli("--json", "instances"))[0]["variables"].get("decision") is None


def test_complete__invalid_form_data_names_the_field(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli("complete", task["id"], "--user", "bob", "--var", "decision=maybe", exit_code=1)
    assert result.stderr.startswith("error: ")
    assert "decision" in result.stderr
    assert open_task(cli, awaiting_approval)["id"] == task["id"]


def test_complete__unknown_task_is_an_error(cli):
    result = cli("complete", "no-such-task", "--user", "bob", exit_code=1)
    assert result.stderr.startswith("error: no ")


def test_complete__an_already_completed_task_is_an_error(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    cli("complete", task["id"], "--user", "bob", "--var", "decision=reject")
    result = cli("complete", task["id"], "--user", "bob", "--var", "decision=reject", exit_code=1)
    assert result.stderr.startswith("error: ")
    interactive = cli(
        "complete", task["id"], "--as-system", "--interactive", input="approve\n", exit_code=1
    )
    assert "Decision" not in interactive.output  # refused before prompting


def test_complete__interactive_prompts_each_field(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli(
        "complete",
        task["id"],
        "--user",
        "bob",
        "--interactive",
        input="maybe\napprove\nLooks fine\n",
    )
    assert "alice asks for 5000 CNY (travel): Flight to the customer" in result.stdout
    assert "Decision (enum: approve=Approve, reject=Reject, required)" in result.stdout
    assert "Comment (string)" in result.stdout
    assert "'maybe' is not one of" in result.output  # asked again
    variables = as_json(cli("--json", "instances"))[0]["variables"]
    assert variables["decision"] == "approve"
    assert variables["comment"] == "Looks fine"


def test_complete__interactive_shows_types_and_defaults(cli, write):
    cli("deploy", str(write("checklist.bpmn", CHECKLIST_BPMN)))
    instance = as_json(cli("--json", "start", "checklist"))
    task = open_task(cli, instance["id"])
    result = cli(
        "complete",
        task["id"],
        "--as-system",
        "-i",
        "--var",
        "counted_on=2024-05-01",
        input="\n\n3\n",
    )
    assert "All there? (boolean) [true]" in result.stdout
    assert "Boxes (long, required)" in result.stdout
    assert "Counted on" not in result.stdout  # given by --var, so not asked
    variables = as_json(cli("--json", "show", instance["id"]))["instance"]["variables"]
    assert variables == {"complete": True, "boxes": 3, "counted_on": "2024-05-01"}


def test_complete__interactive_with_json_keeps_stdout_parseable(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    result = cli("--json", "complete", task["id"], "--user", "bob", "-i", input="reject\n\n")
    assert as_json(result)["state"] == "completed"
    assert "Decision" in result.stderr


def test_groups__from_the_environment(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)
    # without any groups, bob is no candidate at all
    cli("claim", task["id"], "--user", "bob", groups=False, exit_code=1)
    env = {"FLOWDESK_GROUPS": "alice=sales;bob=finance,leadership"}
    cli("claim", task["id"], "--user", "bob", groups=False, env=env)
    assert open_task(cli, awaiting_approval)["assignee"] == "bob"


# -- messages, instances, show, history -----------------------------------------------------------


def test_correlate__by_business_key_and_by_correlation_key(cli, write):
    cli("deploy", str(write("payment.bpmn", MESSAGE_BPMN)))
    first = as_json(cli("--json", "start", "awaiting_payment", "--business-key", "P-1"))
    second = as_json(cli("--json", "start", "awaiting_payment", "--var", "order=42"))
    result = cli("correlate", "payment_received", "--business-key", "P-1", "--var", "amount=3")
    assert f"went to instance {first['id']}" in result.stdout
    by_key = as_json(cli("--json", "correlate", "payment_received", "--key", "order=42"))
    assert by_key["id"] == second["id"]
    assert by_key["state"] == "completed"
    done = as_json(cli("--json", "instances", "--state", "completed"))
    assert {i["id"]: i["variables"].get("amount") for i in done} == {
        first["id"]: 3,
        second["id"]: None,
    }


def test_trigger__show_lists_the_receive_task_and_trigger_moves_it_on(cli, write):
    model = bpmn("goods_in", through('    <bpmn:receiveTask id="Step" name="Goods arrive" />\n'))
    cli("deploy", str(write("goods.bpmn", model)))
    instance = as_json(cli("--json", "start", "goods_in"))

    shown = cli("show", instance["id"]).stdout
    assert "Waiting for:" in shown and re.search(r"Step\s+trigger", shown)
    waits = as_json(cli("--json", "show", instance["id"]))["waits"]
    assert [(w["element_id"], w["kind"]) for w in waits] == [("Step", "trigger")]

    moved = as_json(cli("--json", "trigger", instance["id"], "Step", "--var", "pallets=3"))
    assert moved["state"] == "completed"
    assert moved["variables"] == {"pallets": 3}
    assert cli("trigger", instance["id"], "Step", exit_code=1).stderr.startswith("error: ")


def test_correlate__nobody_waiting_is_an_error(cli):
    result = cli("correlate", "payment_received", exit_code=1)
    assert result.stderr.startswith("error: message 'payment_received'")


SIGNAL_BPMN = bpmn(
    "awaiting_go",
    through(
        '    <bpmn:intermediateCatchEvent id="Step">\n'
        '      <bpmn:signalEventDefinition signalRef="Signal_go" />\n'
        "    </bpmn:intermediateCatchEvent>\n"
    ),
    roots='  <bpmn:signal id="Signal_go" name="go" />\n',
)
DECISION_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="D" name="D"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="route" name="Route">
    <decisionTable id="T" hitPolicy="FIRST">
      <input id="I"><inputExpression id="IE" typeRef="number"><text>amount</text>
      </inputExpression></input>
      <output id="O" name="desk" typeRef="string" />
      <rule id="R1"><inputEntry id="R1I"><text>&gt; 1000</text></inputEntry>
        <outputEntry id="R1O"><text>"finance"</text></outputEntry></rule>
      <rule id="R2"><inputEntry id="R2I"><text>-</text></inputEntry>
        <outputEntry id="R2O"><text>"sales"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_signal__reaches_every_waiting_instance(cli, write):
    cli("deploy", str(write("go.bpmn", SIGNAL_BPMN)))
    cli("start", "awaiting_go")
    cli("start", "awaiting_go")
    result = cli("signal", "go", "--var", "by=ops")
    assert "Signal 'go' reached 2 instances." in result.stdout
    done = as_json(cli("--json", "instances", "--state", "completed"))
    assert [i["variables"] for i in done] == [{"by": "ops"}, {"by": "ops"}]
    assert as_json(cli("--json", "signal", "go")) == {"signal": "go", "reached": 0}


def test_decide__prints_the_decision_result(cli, write):
    cli("deploy", str(write("route.dmn", DECISION_DMN)))
    assert as_json(cli("decide", "route", "--var", "amount=5000")) == {"desk": "finance"}
    assert as_json(cli("decide", "route", "--var", "amount=5", "--version", "1")) == {
        "desk": "sales"
    }
    result = cli("decide", "nowhere", exit_code=1)
    assert "nowhere" in result.stderr


def test_instances__filters(cli, started):
    first = started("EXP-1")
    started("EXP-2")
    table = cli("instances").stdout
    assert first["id"] in table
    assert "EXP-2" in table
    assert [i["business_key"] for i in as_json(cli("--json", "instances"))] == ["EXP-1", "EXP-2"]
    assert len(as_json(cli("--json", "instances", "--business-key", "EXP-2"))) == 1
    assert len(as_json(cli("--json", "instances", "--key", "expense_approval"))) == 2
    assert as_json(cli("--json", "instances", "--state", "completed")) == []
    assert "No instances." in cli("instances", "--key", "other").stdout
    cli("instances", "--state", "finished", exit_code=2)
    by_initiator = as_json(cli("--json", "instances", "--var", "initiator=alice"))
    assert [i["business_key"] for i in by_initiator] == ["EXP-1", "EXP-2"]
    assert as_json(cli("--json", "instances", "--var", "initiator=bob")) == []
    assert "'--var'" in cli("instances", "--var", "initiator=[1]", exit_code=2).stderr


def test_show__instance_tasks_and_jobs(cli, awaiting_approval):
    result = cli("show", awaiting_approval)
    assert f"Instance:     {awaiting_approval}" in result.stdout
    assert "State:        running" in result.stdout
    assert 'category = "travel"' in result.stdout
    assert "Approve expense" in result.stdout
    assert "Timer_remind" in result.stdout  # the 48-hour reminder waits
    shown = as_json(cli("--json", "show", awaiting_approval))
    assert shown["instance"]["id"] == awaiting_approval
    assert [t["element_id"] for t in shown["tasks"]] == ["Task_approve"]
    assert [j["element_id"] for j in shown["jobs"]] == ["Timer_remind"]


def test_show__unknown_instance_is_an_error(cli):
    result = cli("show", "no-such-instance", exit_code=1)
    assert result.stderr == "error: no instance 'no-such-instance'\n"


def test_history__oldest_first(cli, awaiting_approval):
    table = cli("history", awaiting_approval).stdout
    assert "instance_started" in table
    assert "task_completed" in table
    events = as_json(cli("--json", "history", awaiting_approval))
    assert events[0]["type"] == "instance_started"
    completed = [e for e in events if e["type"] == "task_completed"]
    assert completed[0]["user"] == "alice"
    assert completed[0]["data"]["variables"]["amount"] == 5000


def test_history__unknown_instance_is_an_error(cli):
    assert cli("history", "nope", exit_code=1).stderr.startswith("error: no ")


@pytest.fixture
def quoted(db_url, write):
    """An instance whose service task rendered a quotation and then a revised one."""
    body = """
        <bpmn:startEvent id="Start" />
        <bpmn:serviceTask id="Quote" camunda:delegateExpression="${quote}" />
        <bpmn:endEvent id="End" />
        <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Quote" />
        <bpmn:sequenceFlow id="F2" sourceRef="Quote" targetRef="End" />
    """

    def quote(call: flowdesk.ServiceCall) -> None:
        call.attach("Quotation", "# Quotation\n\nTotal: 100\n")
        call.attach("Quotation", "# Quotation\n\nTotal: 90\n")

    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        engine.handlers.register_service("quote", quote)
        engine.deploy(write("quote.bpmn", bpmn("quote", body)))
        return engine.start("quote").id


def test_documents__lists_an_instances_documents_and_prints_the_latest_by_name(cli, quoted):
    table = cli("documents", quoted).stdout
    assert table.count("Quotation") == 2
    assert "text/markdown" in table
    assert cli("documents", quoted, "--name", "Quotation").stdout == "# Quotation\n\nTotal: 90\n"
    listed = as_json(cli("--json", "documents", quoted))
    assert [d["element_id"] for d in listed] == ["Quote", "Quote"]


def test_documents__unknown_name_is_an_error(cli, quoted):
    assert (
        "no document named 'Offer'"
        in cli("documents", quoted, "--name", "Offer", exit_code=1).stderr
    )


# -- jobs, worker, retry --------------------------------------------------------------------------


@pytest.fixture
def overdue_timer(db_url, cli, write):
    """An instance whose one-hour timer was due in 2020; returns the instance id."""
    cli("deploy", str(write("wait.bpmn", TIMER_BPMN)))
    with flowdesk.Engine(db_url, clock=lambda: LONG_AGO) as engine:
        return engine.start("wait_an_hour").id


def test_jobs__fires_due_timers_once(cli, overdue_timer):
    listed = cli("jobs", "--list").stdout
    assert overdue_timer in listed
    assert re.search(r"\bStep\s+timer\b", listed)
    assert cli("jobs").stdout == "1 job fired.\n"
    assert as_json(cli("--json", "jobs")) == {"fired": 0}
    assert as_json(cli("--json", "jobs", "--list")) == []
    assert "No waiting jobs." in cli("jobs", "--list").stdout
    assert as_json(cli("--json", "show", overdue_timer))["instance"]["state"] == "completed"


def test_worker__once_runs_one_pass_and_logs_it(cli, overdue_timer, caplog):
    caplog.set_level(logging.INFO, logger="flowdesk.worker")
    result = cli("worker", "--once")
    assert "Worker stopped after 1 pass; 1 job fired." in result.stdout
    assert "pass 1: 1 job(s) fired" in caplog.messages
    assert as_json(cli("--json", "worker", "--once")) == {"passes": 1, "fired": 0}
    assert as_json(cli("--json", "show", overdue_timer))["instance"]["state"] == "completed"


def test_worker__stops_gracefully_on_sigterm(cli):
    original = signal.getsignal(signal.SIGTERM)

    def terminate_once_the_worker_listens() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if signal.getsignal(signal.SIGTERM) is not original:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=terminate_once_the_worker_listens, daemon=True)
    killer.start()
    started_at = time.monotonic()
    result = cli("worker", "--interval", "60")
    killer.join(timeout=5)
    assert time.monotonic() - started_at < 30  # did not sleep out the interval
    assert "Worker stopped after 1 pass" in result.stdout
    assert signal.getsignal(signal.SIGTERM) is original


def test_worker__rejects_a_non_positive_interval(cli):
    cli("worker", "--interval", "0", exit_code=2)


def test_retry__a_step_that_fails_again_stays_in_incident(cli, write):
    cli("deploy", str(write("billing.bpmn", SERVICE_BPMN)))
    instance = as_json(cli("--json", "start", "billing"))
    assert instance["state"] == "incident"
    result = cli("retry", instance["id"], exit_code=1)
    assert "still in incident" in result.stderr
    events = as_json(cli("--json", "history", instance["id"]))
    assert "incident_retried" in [e["type"] for e in events]


def test_retry__an_instance_without_incident_is_an_error(cli, started):
    instance = started()
    result = cli("retry", instance["id"], exit_code=1)
    assert result.stderr.startswith(f"error: instance '{instance['id']}' is running")


# -- validate -------------------------------------------------------------------------------------


def test_validate__valid_file_prints_ok_with_its_processes(cli):
    result = cli("validate", str(EXPENSE))
    assert result.stdout == f"{EXPENSE}: ok - expense_approval (Expense approval)\n"
    assert as_json(cli("--json", "definitions")) == []  # the real database is untouched


def test_validate__malformed_xml_prints_file_and_line(cli, write):
    path = write("unclosed.bpmn", UNCLOSED_BPMN)
    result = cli("validate", str(path), exit_code=1)
    line = UNCLOSED_BPMN.splitlines().index("  </bpmn:process>") + 1  # where lxml notices
    assert f"{path}:{line}: malformed XML" in result.stdout
    assert "Traceback" not in result.output


def test_validate__dangling_flow_names_the_element(cli, write):
    path = write("dangling.bpmn", DANGLING_BPMN)
    result = cli("validate", str(path), exit_code=1)
    line = DANGLING_BPMN.splitlines().index(
        '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task_missing" />'
    )
    assert re.search(
        rf"{re.escape(str(path))}:{line + 1} \[Flow_1\]: .*Task_missing", result.stdout
    )
    assert f"{path}: 1 problem" in result.stdout


def test_validate__checks_every_file_and_shows_warnings(cli, write):
    good = write("billing.bpmn", SERVICE_BPMN)
    bad = write("dangling.bpmn", DANGLING_BPMN)
    result = cli("validate", str(bad), str(good), exit_code=1)
    assert "warning: process 'billing': service task 'Step'" in result.stdout
    assert f"{good}: ok - billing" in result.stdout
    report = as_json(cli("--json", "validate", str(bad), str(good), exit_code=1))
    assert [(r["ok"], len(r["problems"]), len(r["warnings"])) for r in report] == [
        (False, 1, 0),
        (True, 0, 1),
    ]
    assert report[0]["problems"][0]["element_id"] == "Flow_1"


def test_validate__shows_camunda_settings_flowdesk_does_not_carry_out_as_warnings(cli, write):
    step = '<bpmn:userTask id="Step" camunda:formRef="invoice" camunda:formRefBinding="latest" />\n'
    model = bpmn("invoice", through(step))
    path = write("invoice.bpmn", model)
    result = cli("validate", str(path))
    assert re.search(r"warning: .*invoice.bpmn:\d+ \[Step\]: camunda:formRef", result.stdout)
    assert f"{path}: ok - invoice" in result.stdout


def test_validate__missing_file_is_a_usage_error(cli, tmp_path):
    cli("validate", str(tmp_path / "nope.bpmn"), exit_code=2)


# -- demo, JSON, errors, entry points --------------------------------------------------------------


def test_demo__runs_the_four_shipped_processes_to_their_ends_and_can_run_again(cli):
    result = cli("demo")
    story = result.stdout
    assert "Story 4" in story
    assert "timer 'Timer_filing_reminder' fired" in story
    assert "[demand_confirmation] instance" in story  # called by presales
    assert "message thrown: contract_signed" in story
    assert "gateway 'Approved?' went to 'Order rejected'" in story
    assert "decision 'order_routing' (Decide review route): route = 'leadership_only'" in story
    assert "document '报价单 PS-0001-Q3' rendered" in story
    # the new stories: a rejected discount, a late delivery, a complaint
    assert "finance_approved = False, finance_comment = '82% is below our margin'" in story
    assert "[order_review] timer 'Timer_delivery_overdue' fired" in story
    assert "[order_review] message thrown: complaint_received" in story
    assert "[complaint_handling] message thrown: complaint_requirement" in story
    # An employee leaves mid-process: the customer is told, later tasks go to the successor.
    assert "sam leaves the company: lee hands C-0001 and 1 open task(s) to sally" in story
    assert "[customer_record] new task 'Tell the customer their new contact' for sally" in story
    assert "new task 'Draft contract' for sally" in story
    assert "C-0001's master record: owner sally" in story
    # The engine refuses another department's reader until the general manager approves.
    assert "connie (consultant) opens the opportunity's documents: refused" in story
    assert "may connie read C-0001's archive now? yes" in story
    assert "by fax: Faxed the consulting offer" in story
    assert "flowdesk" in result.stdout and "history ID" in result.stdout
    completed = as_json(cli("--json", "instances", "--state", "completed"))
    assert {i["key"] for i in completed} >= {
        "presales",
        "demand_confirmation",
        "order_review",
        "consulting_engagement",
        "customer_archive_access",
        "complaint_handling",
    }
    documents = as_json(cli("--json", "--user", "sally", "documents", completed[0]["id"]))
    assert isinstance(documents, list)

    again = as_json(cli("--json", "demo"))  # the story goes to stderr, the instances to stdout
    assert {i["business_key"] for i in again} == {"PS-0002", "SO-0002", "CE-0002", "AR-0002"}
    assert sorted(i["key"] for i in again if i["state"] == "running") == [
        "consulting_engagement",
        "customer_record",  # the new customer's master record stays open
    ]
    assert {d["version"] for d in as_json(cli("--json", "definitions"))} == {1}


@pytest.mark.parametrize(
    "args",
    [
        ["definitions"],
        ["definitions", "--all"],
        ["instances"],
        ["tasks", "--state", "all"],
        ["jobs"],
        ["jobs", "--list"],
    ],
)
def test_json__every_listing_parses(cli, awaiting_approval, args):
    for argv in (["--json", *args], [*args, "--json"]):
        value = as_json(cli(*argv))
        assert isinstance(value, list | dict)


def test_unsupported_database_url_is_an_error_without_traceback():
    result = CliRunner(env=CLEAN_ENV).invoke(main, ["--db", "mysql://x/y", "instances"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "mysql" in result.stderr


def test_unknown_command_is_a_usage_error(cli):
    cli("frobnicate", exit_code=2)


def test_parse_value__json_else_text():
    assert parse_value("42") == 42
    assert parse_value("-1.5") == -1.5
    assert parse_value("false") is False
    assert parse_value("null") is None
    assert parse_value('"42"') == "42"
    assert parse_value("NaN") == "NaN"
    assert parse_value("2024-05-01") == "2024-05-01"
    assert parse_value("a=b") == "a=b"


def test_parse_variables__form_fields_stay_text_unless_quoted():
    parsed = parse_variables(
        ["amount=5000", "name=007", 'label="x"', "other=7"], None, text_names={"amount", "name"}
    )
    assert parsed == {"amount": "5000", "name": "007", "label": "x", "other": 7}


def test_parse_groups__merges_repeated_users():
    assert parse_groups(["alice=sales", "bob=leadership, finance; alice=sales,audit", " "]) == {
        "alice": ["sales", "audit"],
        "bob": ["leadership", "finance"],
    }


def test_python_m_flowdesk_runs_the_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "flowdesk", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: flowdesk" in result.stdout


def test_console_script__demo_in_another_folder(tmp_path):
    script = Path(sys.executable).parent / "flowdesk"
    if not script.exists():
        pytest.skip(f"the flowdesk console script is not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    demo = subprocess.run(
        [str(script), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Summary:" in demo.stdout
    assert (tmp_path / "flowdesk.db").exists()  # the default database, in the current folder
    listed = subprocess.run(
        [str(script), "--json", "instances", "--state", "completed"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    completed = {instance["key"] for instance in json.loads(listed.stdout)}
    assert completed >= {"presales", "demand_confirmation", "order_review", "consulting_engagement"}


def test_reassign__moves_a_leaving_users_open_tasks(cli, started):
    instance = started()
    result = cli("--user", "admin", "reassign", "alice", "dave")
    assert "Moved 1 open task from alice to dave." in result.stdout
    (task,) = as_json(cli("--json", "tasks", "--assignee", "dave"))
    assert (task["instance_id"], task["element_id"]) == (instance["id"], "Task_submit")
    events = as_json(cli("--json", "history", instance["id"]))
    assert [(e["type"], e["user"], e["data"]["to"]) for e in events[-1:]] == [
        ("task_reassigned", "admin", "dave")
    ]
    assert as_json(cli("--json", "reassign", "alice", "dave")) == {
        "from": "alice",
        "to": "dave",
        "moved": 0,
    }
    assert "non-empty user names" in cli("reassign", "", "dave", exit_code=2).stderr


def test_report__prints_counts_cycle_times_steps_and_gateway_shares_or_json(cli, db_url):
    from datetime import timedelta

    cli("deploy", str(EXPENSE))
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]

    def wait(hours: float) -> None:
        now[0] += timedelta(hours=hours)

    groups = {"alice": ["sales"], "bob": ["leadership"], "carol": ["finance"]}
    with flowdesk.Engine(
        db_url, clock=lambda: now[0], groups=groups, load_entry_points=False
    ) as engine:
        # a small expense paid, a large one approved and paid, a large one rejected
        for amount, decision in [(200, None), (5000, "approve"), (3000, "reject")]:
            instance = engine.start("expense_approval", user="alice")
            wait(1)
            (task,) = engine.tasks(instance_id=instance.id)
            form = {"amount": amount, "category": "travel", "description": "Trip to Xi'an"}
            engine.complete(task.id, form, user="alice")
            if decision:
                wait(26)
                (task,) = engine.tasks(instance_id=instance.id)
                engine.complete(task.id, {"decision": decision}, user="bob")
            if decision != "reject":
                wait(1.5)
                (task,) = engine.tasks(instance_id=instance.id)
                engine.complete(task.id, {"paid_on": "2026-03-04"}, user="carol")
            wait(1)

    text = cli("report", "expense_approval").stdout
    assert "3 started, 3 completed, 0 terminated, 0 running, 0 with incidents" in text
    assert "median 1d 3h, p90 1d 4h 12m (of 3 completed instances)" in text  # 2.5h, 27h, 28.5h
    steps = text.split("slowest median first:\n")[1].splitlines()
    assert re.match(r"\s+Task_approve \*\s+Approve expense\s+2\s+1d 2h\s+1d 2h\s+2d 4h$", steps[2])
    assert re.match(r"\s+Task_pay\s+Pay expense\s+2\s+1h 30m\s+1h 30m\s+3h$", steps[3])
    assert re.search(r"Amount over 1000\? \(Gateway_amount\), passed 3 times:", text)
    assert re.search(r"Task_approve\s+Approve expense\s+2\s+67%", text)
    assert re.search(r"End_rejected\s+Expense rejected\s+1\s+50%", text)

    data = as_json(cli("--json", "report", "expense_approval", "--since", "2026-03-02T10:00"))
    assert (data["started"], data["completed"], data["since"]) == (
        2,
        2,
        "2026-03-02T10:00:00+00:00",
    )
    assert data["cycle_time_median"] == (27 + 28.5) / 2 * 3600  # durations in seconds
    assert data["bottleneck"]["element_id"] == "Task_approve"
    assert data["gateways"][0]["outcomes"] == {"Task_approve": 2}
    assert cli("report", "expense_aproval", exit_code=1).stderr.startswith("error: no process")


def test_complete__without_a_user_needs_as_system_to_skip_the_authorization_check(
    cli, awaiting_approval
):
    task = open_task(cli, awaiting_approval)

    refused = cli("complete", task["id"], "--var", "decision=approve", exit_code=2)
    assert "--as-system" in refused.stderr
    assert open_task(cli, awaiting_approval)["id"] == task["id"]  # nothing was completed
    both = cli("complete", task["id"], "--user", "bob", "--as-system", exit_code=2)
    assert "not both" in both.stderr

    done = cli("complete", task["id"], "--as-system", "--var", "decision=approve")
    assert "as the system" in done.stdout
    history = as_json(cli("--json", "history", awaiting_approval))
    completed = [e for e in history if e["type"] == "task_completed"]
    assert completed[-1]["user"] is None


def test_complete__the_global_user_from_the_environment_is_checked(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)

    cli(
        "complete",
        task["id"],
        "--var",
        "decision=approve",
        env={"FLOWDESK_USER": "carol"},
        exit_code=1,
    )


def test_json__a_flowdesk_error_is_one_json_object_on_stderr(cli, write):
    missing = cli("--json", "show", "no-such-instance", exit_code=1)
    error = json.loads(missing.stderr)["error"]
    assert error["type"] == "NotFound"
    assert error["kind"] == "instance"
    assert error["ident"] == "no-such-instance"
    assert error["exit_code"] == 1
    assert missing.stdout == ""

    bad = write("bad.bpmn", "<definitions/>")
    rejected = json.loads(cli("--json", "deploy", str(bad), exit_code=1).stderr)["error"]
    assert rejected["type"] == "BpmnValidationError"
    assert rejected["problems"][0]["file"] == str(bad)


def test_json__a_usage_error_found_by_the_command_is_json_too(cli, awaiting_approval):
    task = open_task(cli, awaiting_approval)

    result = cli("complete", task["id"], "--json", exit_code=2)

    error = json.loads(result.stderr)["error"]
    assert error["type"] == "UsageError"
    assert "--as-system" in error["message"]
    assert error["exit_code"] == 2


def test_json__without_json_errors_stay_one_plain_line(cli):
    result = cli("show", "no-such-instance", exit_code=1)
    assert result.stderr.startswith("error: no instance")


def test_show_json__is_valid_json_with_dates_bytes_and_a_computed_nan(cli, db_url) -> None:
    model = Path(__file__).parents[1] / "api" / "data" / "variable_types.bpmn"
    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        engine.deploy(model)
        instance = engine.start(
            "variable_types",
            {"due": datetime(2026, 3, 2, 9, tzinfo=UTC), "deadline": datetime.now(UTC)},
        )
        engine.complete(engine.tasks(instance_id=instance.id)[0].id, {"payload": b"\x00\xff"})

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    shown = json.loads(cli("--json", "show", instance.id).stdout, parse_constant=refuse)
    variables = shown["instance"]["variables"]
    assert variables["ratio"] == "NaN"
    assert variables["ceiling"] == "Infinity"
    assert variables["payload"] == "AP8="
    assert variables["due"] == "2026-03-02T09:00:00+00:00"


def test_instances_var__an_infinite_filter_is_an_error_message_not_a_traceback(cli) -> None:
    cli("deploy", str(EXPENSE))
    result = cli("instances", "--var", "score=1e999", exit_code=2)  # JSON 1e999 is Infinity
    assert "Infinity" in result.stderr
