"""The endpoints no client package exercises, over plain HTTP against a live server: typed
variables in and out (Date in Camunda's format), definitions and their XML, deployments,
form variables, signals, decisions, instance variables, jobs, incidents and history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests
from rest_server import DATA, LiveServer

import flowdesk

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


def _deploy(server: LiveServer, *names: str) -> requests.Response:
    files = [("upload", (name, (DATA / name).read_bytes())) for name in names]
    return server.session("alice").post(
        f"{server.url}/deployment/create", data={"deployment-name": "rest"}, files=files
    )


def test_typed_variables_keep_their_types_through_start_and_read(live_server: LiveServer) -> None:
    url, alice = live_server.url, live_server.session("alice")
    assert _deploy(live_server, "rest_order.bpmn").status_code == 200
    sent = {
        "text": {"value": "héllo", "type": "String"},
        "small": {"value": 7, "type": "Integer"},
        "big": {"value": 2**40, "type": "Long"},
        "ratio": {"value": 0.25, "type": "Double"},
        "flag": {"value": False, "type": "Boolean"},
        "when": {"value": "2026-03-02T09:30:00.000+0800", "type": "Date"},
        "doc": {"value": '{"lines": [1, 2]}', "type": "Json"},
        "nothing": {"value": None, "type": "Null"},
        "untyped": {"value": 3},
    }
    started = alice.post(
        f"{url}/process-definition/key/rest_order/start",
        json={"variables": sent, "businessKey": "T-1", "withVariablesInReturn": True},
    )
    assert started.status_code == 200, started.text
    got = alice.get(f"{url}/process-instance/{started.json()['id']}/variables").json()
    assert got == started.json()["variables"]
    assert {name: got[name]["type"] for name in sent} == {
        "text": "String",
        "small": "Integer",
        "big": "Long",
        "ratio": "Double",
        "flag": "Boolean",
        "when": "Date",
        "doc": "Json",
        "nothing": "Null",
        "untyped": "Integer",
    }
    when = datetime.strptime(got["when"]["value"], DATE_FORMAT)
    assert when == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert got["doc"]["value"] == '{"lines": [1, 2]}'
    assert got["big"]["value"] == 2**40

    # The stored value is the library's typed value: an aware datetime, a dict.
    with flowdesk.Engine(live_server.db_url) as engine:
        stored = engine.instance(started.json()["id"]).variables
    assert stored["when"] == datetime(2026, 3, 2, 9, 30, tzinfo=UTC) + timedelta(hours=-8)
    assert stored["doc"] == {"lines": [1, 2]}

    one = f"{url}/process-instance/{started.json()['id']}/variables/ratio"
    assert alice.put(one, json={"value": "2.5", "type": "Double"}).status_code == 204
    assert alice.get(one).json() == {"type": "Double", "value": 2.5, "valueInfo": {}}
    missing = alice.get(f"{url}/process-instance/{started.json()['id']}/variables/absent")
    assert missing.status_code == 404
    for wrong in (
        {"value": "x", "type": "Integer"},
        {"value": 2**31, "type": "Integer"},
        {"value": "2026-03-02", "type": "Date"},
        {"value": "{", "type": "Json"},
        {"value": 1, "type": "Object"},
    ):
        refused = alice.put(one, json=wrong)
        assert refused.status_code == 400, wrong
        assert refused.json()["type"] == "InvalidRequestException"


def test_definitions_deployments_and_xml(live_server: LiveServer) -> None:
    url, alice = live_server.url, live_server.session("alice")
    first = _deploy(live_server, "rest_order.bpmn", "rest_discount.dmn").json()
    assert set(first["deployedDecisionDefinitions"]) == {"rest_discount:1"}
    again = _deploy(live_server, "rest_order.bpmn").json()  # unchanged: no new version
    assert set(again["deployedProcessDefinitions"]) == {"rest_order:1"}
    listed = alice.get(f"{url}/process-definition", params={"key": "rest_order"}).json()
    assert [(d["id"], d["version"]) for d in listed] == [("rest_order:1", 1)]
    assert alice.get(f"{url}/process-definition/rest_order:1").json()["name"] == "REST order"
    assert alice.get(f"{url}/process-definition/rest_order:9").status_code == 404
    xml = alice.get(f"{url}/process-definition/key/rest_order/xml").json()
    assert xml["bpmn20Xml"] == (DATA / "rest_order.bpmn").read_text(encoding="utf-8")
    (deployment,) = alice.get(f"{url}/deployment").json()
    assert deployment["id"] == first["id"]
    assert alice.get(f"{url}/deployment/{first['id']}").json()["deploymentTime"]
    assert alice.get(f"{url}/deployment/count").json() == {"count": 1}
    counted = alice.get(f"{url}/process-definition/count", params={"latestVersion": "true"})
    assert counted.json() == {"count": 1}
    paged = alice.get(f"{url}/process-definition", params={"firstResult": 1})
    assert paged.json() == []


def test_form_variables_decisions_and_a_signal_start(live_server: LiveServer) -> None:
    url, alice = live_server.url, live_server.session("alice")
    _deploy(live_server, "rest_order.bpmn", "rest_events.bpmn", "rest_discount.dmn")
    started = alice.post(
        f"{url}/process-definition/key/rest_order/start",
        json={"variables": {"note": {"value": "rush", "type": "String"}}},
    ).json()
    (task,) = alice.get(f"{url}/task", params={"processInstanceId": started["id"]}).json()
    form = alice.get(f"{url}/task/{task['id']}/form-variables").json()
    assert form == {
        "amount": {"type": "Long", "value": None, "valueInfo": {}},
        "approved": {"type": "Boolean", "value": False, "valueInfo": {}},
        "note": {"type": "String", "value": "rush", "valueInfo": {}},
    }
    only = alice.get(f"{url}/task/{task['id']}/form-variables", params={"variableNames": "note"})
    assert set(only.json()) == {"note"}

    rates = alice.post(
        f"{url}/decision-definition/key/rest_discount/evaluate",
        json={"variables": {"amount": {"value": 5000, "type": "Long"}}},
    )
    assert rates.json() == [{"rate": {"type": "Double", "value": 0.05, "valueInfo": {}}}]

    wes = live_server.session("wes")
    assert wes.get(f"{url}/task/count", params={"candidateUser": "wes"}).json() == {"count": 0}
    signalled = alice.post(f"{url}/signal", json={"name": "restock", "variables": {}})
    assert signalled.status_code == 204
    (count,) = wes.get(f"{url}/task", params={"candidateGroup": "warehouse"}).json()
    assert count["name"] == "Count stock"
    assert wes.post(f"{url}/task/count", json={"candidateUser": "wes"}).json() == {"count": 1}


def test_incidents_jobs_and_activity_history(live_server: LiveServer) -> None:
    url, alice = live_server.url, live_server.session("alice")
    _deploy(live_server, "rest_order.bpmn", "rest_events.bpmn")
    failed = alice.post(
        f"{url}/process-definition/key/rest_ratio/start",
        json={"variables": {"divisor": {"value": 0, "type": "Integer"}}},
    ).json()
    (incident,) = alice.get(f"{url}/incident").json()
    assert incident["processInstanceId"] == failed["id"]
    assert incident["incidentType"] == "failedStep"
    assert alice.get(f"{url}/incident/count").json() == {"count": 1}
    listed = alice.get(f"{url}/process-instance", params={"withIncident": "true"}).json()
    assert [p["id"] for p in listed] == [failed["id"]]

    # An order waiting at "Ship" has its boundary timer as a job.
    order = alice.post(f"{url}/process-definition/key/rest_order/start", json={}).json()
    (review,) = alice.get(f"{url}/task", params={"processInstanceId": order["id"]}).json()
    dave = live_server.session("dave")
    completed = dave.post(
        f"{url}/task/{review['id']}/complete",
        json={"variables": {"amount": {"value": 10, "type": "Long"}}},
    )
    assert completed.status_code == 204
    assert (
        alice.post(
            f"{url}/message", json={"messageName": "payment_received", "resultEnabled": False}
        ).status_code
        == 204
    )
    (job,) = alice.get(f"{url}/job", params={"processInstanceId": order["id"]}).json()
    assert job["processDefinitionKey"] == "rest_order" and job["exceptionMessage"] is None
    assert alice.get(f"{url}/job/{job['id']}").json()["id"] == job["id"]
    assert alice.put(f"{url}/job/nope/retries", json={"retries": 1}).status_code == 404
    assert alice.put(f"{url}/job/{job['id']}/retries", json={"retries": -1}).status_code == 400

    activities = alice.get(
        f"{url}/history/activity-instance", params={"processInstanceId": order["id"]}
    ).json()
    seen = [(a["activityId"], a["activityType"], a["endTime"] is not None) for a in activities]
    assert ("Start", "startEvent", True) in seen
    assert ("Review", "userTask", True) in seen
    assert ("Paid", "intermediateCatchEvent", True) in seen
    assert ("Ship", "userTask", False) in seen
    unfinished = alice.get(
        f"{url}/history/activity-instance",
        params={"processInstanceId": order["id"], "unfinished": "true"},
    ).json()
    assert [a["activityId"] for a in unfinished] == ["Ship"]
    tasks = alice.get(f"{url}/history/task", params={"processInstanceId": order["id"]}).json()
    assert [(t["taskDefinitionKey"], t["deleteReason"]) for t in tasks] == [
        ("Review", "completed"),
        ("Ship", None),
    ]
    assert alice.delete(f"{url}/process-instance/{order['id']}").status_code == 204
    assert alice.delete(f"{url}/process-instance/{order['id']}").status_code == 404
    tasks = alice.get(f"{url}/history/task", params={"processInstanceId": order["id"]}).json()
    assert [t["deleteReason"] for t in tasks] == ["completed", "deleted"]
    assert alice.get(f"{url}/job", params={"processInstanceId": order["id"]}).json() == []
    ended = alice.get(f"{url}/history/process-instance", params={"finished": "true"}).json()
    assert [(p["id"], p["state"]) for p in ended] == [(order["id"], "EXTERNALLY_TERMINATED")]


def test_giving_a_failed_job_retries_resolves_its_incident(live_server: LiveServer) -> None:
    url, alice = live_server.url, live_server.session("alice")
    _deploy(live_server, "rest_async.bpmn")
    started = alice.post(f"{url}/process-definition/key/rest_async/start", json={}).json()
    # The test is the job executor here (the server runs with --no-jobs).
    with flowdesk.Engine(live_server.db_url) as engine:
        assert engine.run_due_jobs() == 0  # the script fails: no retries left (R1)
    (job,) = alice.get(f"{url}/job", params={"withException": "true"}).json()
    assert job["retries"] == 0 and "stock_service_up" in job["exceptionMessage"]
    assert job["failedActivityId"] == "Check_stock"
    (incident,) = alice.get(f"{url}/incident").json()
    assert incident["incidentType"] == "failedJob"
    assert (incident["activityId"], incident["configuration"]) == ("Check_stock", job["id"])
    assert incident["processInstanceId"] == started["id"]

    assert alice.put(f"{url}/job/{job['id']}/retries", json={"retries": 1}).status_code == 204
    assert alice.get(f"{url}/incident").json() == []
    (waiting,) = alice.get(f"{url}/job", params={"processInstanceId": started["id"]}).json()
    assert waiting["retries"] is None and waiting["exceptionMessage"] is None


def test_historic_state_filter_counts_and_pages_the_filtered_list(
    live_server: LiveServer,
) -> None:
    url, alice = live_server.url, live_server.session("alice")
    _deploy(live_server, "rest_order.bpmn")
    ids = [
        alice.post(f"{url}/process-definition/key/rest_order/start", json={}).json()["id"]
        for _ in range(3)
    ]
    assert alice.delete(f"{url}/process-instance/{ids[1]}").status_code == 204
    history = f"{url}/history/process-instance"
    active = alice.get(history, params={"state": "ACTIVE"}).json()
    assert [p["id"] for p in active] == [ids[0], ids[2]]
    second = alice.get(history, params={"state": "ACTIVE", "firstResult": 1}).json()
    assert [p["id"] for p in second] == [ids[2]]
    counted = alice.get(f"{history}/count", params={"state": "EXTERNALLY_TERMINATED"})
    assert counted.json() == {"count": 1}
    assert alice.get(f"{history}/count").json() == {"count": 3}
    posted = alice.post(history, json={"unfinished": True}, params={"maxResults": 1}).json()
    assert [p["id"] for p in posted] == [ids[0]]
