"""Contract tests of the live server: the OpenAPI document it serves validates and names every
route; schemathesis (a schema-based fuzzer, run as its own command) finds no server error, no
response outside the documented schemas and statuses; and the error shapes are Camunda's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate
from rest_server import DATA, INVOICE, LiveServer, password

from flowdesk.server import OPERATIONS


def _deploy_and_start(server: LiveServer) -> None:
    session = server.session("alice")
    files = [
        ("upload", (path.name, path.read_bytes()))
        for path in (
            DATA / "rest_order.bpmn",
            DATA / "rest_events.bpmn",
            DATA / "rest_discount.dmn",
            INVOICE,
        )
    ]
    assert session.post(f"{server.url}/deployment/create", files=files).status_code == 200
    started = session.post(
        f"{server.url}/process-definition/key/rest_order/start",
        json={"businessKey": "ORD-1", "variables": {"customer": {"value": "ACME"}}},
    )
    assert started.status_code == 200
    # An external task, so that the external-task lists answer with one.
    invoice = session.post(
        f"{server.url}/process-definition/key/invoice/start",
        json={"variables": {"quantity": {"value": 2}, "unit_price": {"value": 5}}},
    )
    assert invoice.status_code == 200


def test_the_served_openapi_document_validates_and_lists_every_route(
    live_server: LiveServer,
) -> None:
    response = requests.get(f"{live_server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    served = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert served == {(op.path, op.method.lower()) for op in OPERATIONS}


@pytest.mark.timeout(600)  # some 2,000 requests; more than the default on a loaded machine
def test_schemathesis_finds_no_server_error_nor_schema_violation(
    live_server: LiveServer, tmp_path: Path
) -> None:
    _deploy_and_start(live_server)
    user = "alice"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{live_server.url}/openapi.json",
        "--url", live_server.url, "--auth", f"{user}:{password(user)}",
        "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
        "content_type_conformance",
        "--phases", "examples,coverage,fuzzing", "--max-examples", "5", "--seed", "1505",
        "--workers", "1", "--request-timeout", "30", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    # The hooks keep generated long polls short (see schemathesis_hooks.py).
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py")),
    }
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


def test_errors_have_camundas_shape_and_status(live_server: LiveServer) -> None:
    url = live_server.url
    _deploy_and_start(live_server)
    anonymous = requests.get(f"{url}/task", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(f"{url}/task", auth=("alice", "not-her-password"), timeout=10)
    assert wrong.status_code == 401

    alice = live_server.session("alice")
    missing = alice.get(f"{url}/process-instance/no-such-instance")
    assert missing.status_code == 404
    assert missing.json()["type"] == "InvalidRequestException"
    assert "no-such-instance" in missing.json()["message"]

    bad = alice.post(
        f"{url}/process-definition/key/rest_order/start",
        json={"variables": {"quantity": {"value": 2**40, "type": "Integer"}}},
    )
    assert bad.status_code == 400 and bad.json()["type"] == "InvalidRequestException"
    not_json = alice.post(
        f"{url}/message", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400

    refused = alice.post(
        f"{url}/deployment/create",
        files=[("upload", ("broken.bpmn", b"<bpmn:definitions xmlns:bpmn='x'><oops"))],
    )
    assert refused.status_code == 400
    assert refused.json()["type"] == "ParseException"
    assert "broken.bpmn" in refused.json()["message"]
    assert "/tmp" not in refused.text  # the server's own paths stay on the server

    (task,) = alice.get(f"{url}/task", params={"processInstanceBusinessKey": "ORD-1"}).json()
    for_bob = alice.post(f"{url}/task/{task['id']}/claim", json={"userId": "bob"})
    assert for_bob.status_code == 403
    body = for_bob.json()
    assert body["type"] == "AuthorizationException" and body["userId"] == "alice"
    assert body["missingAuthorizations"][0]["resourceId"] == task["id"]

    dave = live_server.session("dave")
    assert dave.post(f"{url}/task/{task['id']}/claim", json={"userId": "dave"}).status_code == 204
    wes = live_server.session("wes")
    taken = wes.post(f"{url}/task/{task['id']}/claim", json={"userId": "wes"})
    assert taken.status_code == 500 and taken.json()["type"] == "TaskAlreadyClaimedException"
    unknown_route = alice.get(f"{url}/no-such-resource")
    assert unknown_route.status_code == 404 and "type" in unknown_route.json()
