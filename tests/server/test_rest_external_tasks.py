"""External tasks over the REST API, against a live `flowdesk serve`: a worker of
`camunda-external-task-client-python3` (Camunda's Python worker from PyPI, written by others)
completes, fails and throws BPMN errors on the topic of the example invoice process
(examples/invoice.bpmn); plain HTTP checks the lock rules, the errors Camunda's REST API
gives, the query and long polling. Its async worker long-polls and completes tasks started
while it waits."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from camunda.external_task.async_external_task_worker import AsyncExternalTaskWorker
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker
from rest_server import INVOICE, LiveServer, password, start_server, stop_server

TOPIC = "invoicing"


def _deploy(server: LiveServer) -> None:
    files = [("upload", ("invoice.bpmn", INVOICE.read_bytes()))]
    response = server.session("alice").post(f"{server.url}/deployment/create", files=files)
    assert response.status_code == 200, response.text


def _start(server: LiveServer, business_key: str, **variables: Any) -> str:
    typed = {
        "quantity": {"value": 3, "type": "Integer"},
        "unit_price": {"value": 40, "type": "Integer"},
        **{name: {"value": value} for name, value in variables.items()},
    }
    response = server.session("alice").post(
        f"{server.url}/process-definition/key/invoice/start",
        json={"businessKey": business_key, "variables": typed},
    )
    assert response.status_code == 200, response.text
    ident: str = response.json()["id"]
    return ident


def _worker(server: LiveServer, worker_id: str = "invoicer", **config: Any) -> ExternalTaskWorker:
    """A Camunda worker logged in as wes, with short timeouts so the test does not wait long."""
    settings = {
        "auth_basic": {"username": "wes", "password": password("wes")},
        "maxTasks": 1,
        "lockDuration": 10_000,
        "asyncResponseTimeout": 1_000,
        "retries": 3,
        "retryTimeout": 1_000,
        "sleepSeconds": 0,
        **config,
    }
    return ExternalTaskWorker(worker_id=worker_id, base_url=server.url, config=settings)


def _history(server: LiveServer, instance_id: str) -> list[str]:
    """The activities the instance has passed, in order."""
    response = server.session("alice").get(
        f"{server.url}/history/activity-instance", params={"processInstanceId": instance_id}
    )
    assert response.status_code == 200, response.text
    return [a["activityId"] for a in response.json()]


def _open_tasks(server: LiveServer, instance_id: str) -> list[str]:
    response = server.session("carol").get(
        f"{server.url}/task", params={"processInstanceId": instance_id}
    )
    assert response.status_code == 200, response.text
    return [t["taskDefinitionKey"] for t in response.json()]


def _variables(server: LiveServer, instance_id: str) -> dict[str, Any]:
    response = server.session("alice").get(f"{server.url}/process-instance/{instance_id}/variables")
    assert response.status_code == 200, response.text
    got: dict[str, Any] = response.json()
    return got


def test_a_camunda_worker_completes_a_task_and_the_process_goes_on_with_its_variables(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    printed = _start(live_server, "INV-1", case="print")
    posted = _start(live_server, "INV-2", case="post")
    seen: dict[str, dict[str, Any]] = {}

    def issue(task: ExternalTask) -> TaskResult:
        variables = task.get_variables()
        seen[task.get_business_key()] = {
            "variables": variables,
            "properties": task.get_extension_properties(),
            "activity": task.get_activity_id(),
            "worker": task.get_worker_id(),
        }
        copies = 2 if variables["case"] == "print" else 0
        return task.complete(
            {"invoice_number": f"R-{task.get_business_key()}", "paper_copies": copies}
        )

    worker = _worker(live_server)
    worker.fetch_and_execute(TOPIC, issue, process_variables={"case": "print"})
    worker.fetch_and_execute(TOPIC, issue, process_variables={"case": "post"})

    # The worker got the process variables and the activity's input parameter, typed.
    assert seen["INV-1"]["variables"] == {
        "quantity": 3,
        "unit_price": 40,
        "case": "print",
        "invoice_total": 120,
    }
    assert seen["INV-1"]["properties"] == {"format": "pdf"}
    assert (seen["INV-1"]["activity"], seen["INV-1"]["worker"]) == ("Issue_invoice", "invoicer")
    # The process has the worker's variables, and its gateway took the path they chose.
    for instance, copies, waiting in ((printed, 2, "Print_copies"), (posted, 0, "Post_invoice")):
        variables = _variables(live_server, instance)
        assert variables["invoice_number"] == {
            "type": "String",
            "value": f"R-INV-{1 if copies else 2}",
            "valueInfo": {},
        }
        assert variables["paper_copies"]["value"] == copies
        assert "invoice_total" not in variables  # the input parameter stayed in the activity
        assert _open_tasks(live_server, instance) == [waiting]
    assert requests.get(
        f"{live_server.url}/external-task/count", auth=live_server.auth("wes"), timeout=10
    ).json() == {"count": 0}


def test_a_camunda_worker_fails_with_retries_until_the_task_has_an_incident(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    instance = _start(live_server, "INV-3", case="fail")
    url, wes = live_server.url, live_server.session("wes")

    def broken(task: ExternalTask) -> TaskResult:
        # The client counts down from the task's retries; on a first failure, from max_retries.
        return task.failure(
            "ledger unreachable", "socket timeout", max_retries=2, retry_timeout=2500
        )

    def retries() -> int:
        (task,) = wes.get(f"{url}/external-task", params={"processInstanceId": instance}).json()
        left: int = task["retries"]
        return left

    worker = _worker(live_server)
    worker.fetch_and_execute(TOPIC, broken)
    (task,) = wes.get(f"{url}/external-task", params={"processInstanceId": instance}).json()
    assert (task["retries"], task["errorMessage"], task["workerId"]) == (
        2,
        "ledger unreachable",
        "invoicer",
    )
    # Within the retry timeout the task is not handed out again, to anyone.
    assert (
        wes.post(
            f"{url}/external-task/fetchAndLock",
            json={
                "workerId": "other",
                "maxTasks": 5,
                "topics": [{"topicName": TOPIC, "lockDuration": 1000}],
            },
        ).json()
        == []
    )
    time.sleep(2.6)
    worker.fetch_and_execute(TOPIC, broken)
    assert retries() == 1
    time.sleep(2.6)
    worker.fetch_and_execute(TOPIC, broken)  # the last retry: an incident

    (task,) = wes.get(f"{url}/external-task", params={"processInstanceId": instance}).json()
    assert task["retries"] == 0
    time.sleep(2.6)  # the retry timeout has passed, but a task without retries is not fetched
    empty = wes.post(
        f"{url}/external-task/fetchAndLock",
        json={
            "workerId": "invoicer",
            "maxTasks": 5,
            "topics": [{"topicName": TOPIC, "lockDuration": 1000}],
        },
    )
    assert empty.json() == []
    assert wes.get(f"{url}/external-task/count", params={"noRetriesLeft": "true"}).json() == {
        "count": 1
    }
    incidents = wes.get(f"{url}/incident", params={"processInstanceId": instance}).json()
    assert [
        (i["incidentType"], i["configuration"], i["activityId"], i["incidentMessage"])
        for i in incidents
    ] == [("failedExternalTask", task["id"], "Issue_invoice", "ledger unreachable")]

    # Setting retries resolves the incident; the worker then completes the task.
    assert (
        wes.put(f"{url}/external-task/{task['id']}/retries", json={"retries": 1}).status_code == 204
    )
    assert wes.get(f"{url}/incident", params={"processInstanceId": instance}).json() == []
    worker.fetch_and_execute(TOPIC, lambda t: t.complete({"paper_copies": 0}))
    assert _open_tasks(live_server, instance) == ["Post_invoice"]


def test_a_camunda_worker_bpmn_error_is_caught_by_the_boundary_event(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    instance = _start(live_server, "INV-4", case="blocked")

    def blocked(task: ExternalTask) -> TaskResult:
        return task.bpmn_error(
            "CREDIT_BLOCKED", "customer over credit limit", {"credit_limit": 100}
        )

    _worker(live_server).fetch_and_execute(TOPIC, blocked)

    assert _open_tasks(live_server, instance) == ["Clear_credit"]
    passed = _history(live_server, instance)
    assert "Credit_blocked" in passed
    assert not {"Copies", "Post_invoice", "Print_copies"} & set(passed)
    variables = _variables(live_server, instance)
    assert variables["block_code"]["value"] == "CREDIT_BLOCKED"
    assert variables["block_reason"]["value"] == "customer over credit limit"
    assert variables["credit_limit"]["value"] == 100


def _fetch(
    session: requests.Session, url: str, worker: str, *, timeout: int | None = None, **topic: Any
) -> requests.Response:
    body: dict[str, Any] = {
        "workerId": worker,
        "maxTasks": 10,
        "topics": [{"topicName": TOPIC, "lockDuration": 60_000, **topic}],
    }
    if timeout is not None:
        body["asyncResponseTimeout"] = timeout
    return session.post(f"{url}/external-task/fetchAndLock", json=body)


def test_only_the_worker_holding_the_lock_may_report_and_errors_are_camundas(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    instance = _start(live_server, "INV-5", case="lock")
    url, wes = live_server.url, live_server.session("wes")

    (locked,) = _fetch(wes, url, "first").json()
    ident = locked["id"]
    assert locked["workerId"] == "first" and locked["processInstanceId"] == instance
    assert locked["processDefinitionId"] == "invoice:1"
    assert locked["variables"]["invoice_total"] == {
        "type": "Integer",
        "value": 120,
        "valueInfo": {},
    }
    assert locked["extensionProperties"] == {}  # not asked for
    assert _fetch(wes, url, "second").json() == []  # locked: nobody else gets it

    for action, body in (
        ("complete", {"workerId": "second"}),
        ("failure", {"workerId": "second", "retries": 1, "errorMessage": "x"}),
        ("bpmnError", {"workerId": "second", "errorCode": "CREDIT_BLOCKED"}),
        ("extendLock", {"workerId": "second", "newDuration": 1000}),
    ):
        refused = wes.post(f"{url}/external-task/{ident}/{action}", json=body)
        assert refused.status_code == 400, (action, refused.text)
        assert refused.json()["type"] == "RestException"
        assert "first" in refused.json()["message"]
    # Nothing changed: the lock is still first's.
    assert wes.get(f"{url}/external-task/{ident}").json()["workerId"] == "first"

    missing = wes.post(f"{url}/external-task/no-such-task/complete", json={"workerId": "first"})
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "RestException",
        "message": "External task with id no-such-task does not exist",
        "code": None,
    }
    assert wes.get(f"{url}/external-task/no-such-task").status_code == 404
    no_retries = wes.put(f"{url}/external-task/{ident}/retries", json={})
    assert no_retries.status_code == 400
    assert no_retries.json()["message"] == "The number of retries cannot be null."
    no_worker = wes.post(f"{url}/external-task/{ident}/complete", json={})
    assert no_worker.status_code == 400

    # The holder extends its lock; after an unlock another worker fetches the task, and the
    # first may no longer complete it.
    assert (
        wes.post(
            f"{url}/external-task/{ident}/extendLock",
            json={"workerId": "first", "newDuration": 5000},
        ).status_code
        == 204
    )
    assert wes.post(f"{url}/external-task/{ident}/unlock").status_code == 204
    assert wes.get(f"{url}/external-task/{ident}").json()["workerId"] is None
    (again,) = _fetch(wes, url, "second").json()
    assert again["id"] == ident
    late = wes.post(f"{url}/external-task/{ident}/complete", json={"workerId": "first"})
    assert late.status_code == 400 and late.json()["type"] == "RestException"
    done = wes.post(
        f"{url}/external-task/{ident}/complete",
        json={"workerId": "second", "variables": {"paper_copies": {"value": 1, "type": "Integer"}}},
    )
    assert done.status_code == 204
    assert _open_tasks(live_server, instance) == ["Print_copies"]
    gone = wes.post(f"{url}/external-task/{ident}/complete", json={"workerId": "second"})
    assert gone.status_code == 404


def test_the_query_and_count_filter_as_camundas(live_server: LiveServer) -> None:
    _deploy(live_server)
    first = _start(live_server, "INV-6", case="a")
    second = _start(live_server, "INV-7", case="b")
    _start(live_server, "INV-8", case="c")
    url, wes = live_server.url, live_server.session("wes")
    # A topic's definition filters take the REST API's definition ids.
    assert _fetch(wes, url, "probe", processDefinitionId="invoice:2").json() == []
    assert _fetch(wes, url, "probe", processDefinitionIdIn=["invoice", "x:1"]).json() == []
    (locked,) = _fetch(
        wes, url, "counter", processVariables={"case": "a"}, processDefinitionId="invoice:1"
    ).json()
    assert locked["processInstanceId"] == first
    (failing,) = _fetch(wes, url, "counter", businessKey="INV-7").json()
    assert failing["processInstanceId"] == second
    assert (
        wes.post(
            f"{url}/external-task/{failing['id']}/failure",
            json={"workerId": "counter", "errorMessage": "down", "retries": 0},
        ).status_code
        == 204
    )

    def count(**params: Any) -> int:
        got = wes.get(f"{url}/external-task/count", params=params)
        assert got.status_code == 200, got.text
        number: int = got.json()["count"]
        return number

    assert count() == 3
    assert count(topicName=TOPIC, processDefinitionKey="invoice") == 3
    assert count(processDefinitionId="invoice:1") == 3
    assert count(processDefinitionId="invoice:2") == 0
    assert count(locked="true") == 1
    assert count(notLocked="true") == 2
    assert count(workerId="counter") == 2  # a failed task keeps its worker
    assert count(withRetriesLeft="true") == 2
    assert count(noRetriesLeft="true") == 1
    assert count(processInstanceIdIn=f"{first},{second}") == 2
    assert count(activityIdIn="Issue_invoice,Other") == 3
    assert count(suspended="true") == 0

    def topics(**params: Any) -> list[str]:
        got = wes.get(f"{url}/external-task/topic-names", params=params)
        assert got.status_code == 200, got.text
        names: list[str] = got.json()
        return names

    assert topics() == [TOPIC]
    assert topics(withLockedTasks="true") == [TOPIC]
    assert topics(withLockedTasks="true", withUnlockedTasks="true") == []
    wes.post(f"{url}/external-task/{locked['id']}/unlock")
    assert topics(withLockedTasks="true") == []
    assert count(locked="true") == 0
    body = wes.post(f"{url}/external-task/count", json={"externalTaskIdIn": [locked["id"]]})
    assert body.json() == {"count": 1}
    listed = wes.get(f"{url}/external-task", params={"maxResults": 2})
    assert [t["businessKey"] for t in listed.json()] == ["INV-6", "INV-7"]
    bad = wes.get(f"{url}/external-task", params={"locked": "perhaps"})
    assert bad.status_code == 400 and bad.json()["type"] == "InvalidRequestException"


def test_fetch_and_lock_waits_for_a_task_until_the_async_response_timeout(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    url, wes = live_server.url, live_server.session("wes")

    began = time.monotonic()
    assert _fetch(wes, url, "poller", timeout=1_000).json() == []
    assert time.monotonic() - began >= 1.0  # it waited the whole timeout

    # A task created while the request waits is handed to it before the timeout.
    starter = threading.Timer(1.0, lambda: _start(live_server, "INV-9", case="late"))
    began = time.monotonic()
    starter.start()
    try:
        found = _fetch(wes, url, "poller", timeout=20_000)
    finally:
        starter.join()
    waited = time.monotonic() - began
    assert [t["businessKey"] for t in found.json()] == ["INV-9"]
    assert 1.0 <= waited < 10.0

    too_long = _fetch(wes, url, "poller", timeout=1_800_001)
    assert too_long.status_code == 400
    assert "1800000 milliseconds" in too_long.json()["message"]
    # The other routes answer while a request waits: long polling holds no worker thread.
    waiting = [
        threading.Thread(
            target=_fetch,
            args=(live_server.session("wes"), url, f"idle-{n}"),
            kwargs={"timeout": 6_000},
        )
        for n in range(50)
    ]
    for thread in waiting:
        thread.start()
    time.sleep(0.5)
    began = time.monotonic()
    assert wes.get(f"{url}/external-task/count").status_code == 200
    # Had each waiting fetch held a thread, the 40 threads would all be taken for 6 s.
    assert time.monotonic() - began < 4.0
    for thread in waiting:
        thread.join()


@pytest.mark.parametrize("user", [None, "nobody"])
def test_external_task_routes_need_a_login(live_server: LiveServer, user: str | None) -> None:
    auth = None if user is None else (user, "wrong")
    response = requests.post(
        f"{live_server.url}/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 1, "topics": []},
        auth=auth,
        timeout=10,
    )
    assert response.status_code == 401


def test_a_waiting_fetch_is_rejected_as_camunda_rejects_it_when_the_server_stops(
    db_url: str, tmp_path: Path
) -> None:
    process, server = start_server(db_url, tmp_path)
    answers: list[requests.Response] = []
    try:
        waiting = threading.Thread(
            target=lambda: answers.append(
                _fetch(server.session("wes"), server.url, "poller", timeout=600_000)
            )
        )
        waiting.start()
        time.sleep(1.0)
    finally:
        began = time.monotonic()
        stop_server(process)
    waiting.join(timeout=30)
    assert time.monotonic() - began < 12.0  # not the ten minutes the request asked to wait
    (answer,) = answers
    assert answer.status_code == 500
    assert answer.json()["message"] == "Request rejected due to shutdown of application server."
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_requests_flowdesk_cannot_honour_are_refused_and_change_nothing(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    _start(live_server, "INV-10", case="refused")
    url, wes = live_server.url, live_server.session("wes")
    topic = {"topicName": TOPIC, "lockDuration": 60_000}
    for body in (
        {"workerId": "w", "maxTasks": 1, "topics": [{**topic, "lockDuration": 10**15}]},
        {"workerId": "w", "maxTasks": 1, "topics": [{**topic, "lockDuration": 0}]},
        {"workerId": "w", "maxTasks": 2**31, "topics": [topic]},
        {"workerId": "w", "maxTasks": 1, "topics": [{**topic, "tenantIdIn": ["t1"]}]},
        {"workerId": "w", "maxTasks": 1, "topics": [topic, topic]},
        {"workerId": "w", "maxTasks": 1, "topics": [topic], "sorting": [
            {"sortBy": "createTime", "sortOrder": "desc"}
        ]},
        {"maxTasks": 1, "topics": [topic]},
    ):  # fmt: skip
        refused = wes.post(f"{url}/external-task/fetchAndLock", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["type"] == "InvalidRequestException"
    assert wes.get(f"{url}/external-task/count", params={"locked": "true"}).json() == {"count": 0}

    (task,) = _fetch(wes, url, "w").json()
    ident = task["id"]
    for action, body in (
        ("failure", {"workerId": "w", "retries": 2**31, "errorMessage": "x"}),
        ("failure", {"workerId": "w", "retries": 1, "retryTimeout": -1}),
        ("failure", {"workerId": "w", "retries": 1, "variables": {"a": {"value": 1}}}),
        ("bpmnError", {"workerId": "w"}),
        ("extendLock", {"workerId": "w", "newDuration": 0}),
    ):
        refused = wes.post(f"{url}/external-task/{ident}/{action}", json=body)
        assert refused.status_code == 400, (action, body, refused.text)
    assert wes.put(f"{url}/external-task/{ident}/retries", json={"retries": -1}).status_code == 400
    kept = wes.get(f"{url}/external-task/{ident}").json()
    assert (kept["workerId"], kept["retries"], kept["errorMessage"]) == ("w", None, None)


def test_a_fetch_whose_client_went_away_stops_waiting_and_locks_nothing(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    url, wes = live_server.url, live_server.session("wes")
    with pytest.raises(requests.Timeout):  # the client gives up after a second and hangs up
        wes.post(
            f"{url}/external-task/fetchAndLock",
            json={
                "workerId": "gone",
                "maxTasks": 1,
                "asyncResponseTimeout": 20_000,
                "topics": [{"topicName": TOPIC, "lockDuration": 60_000}],
            },
            timeout=1.0,
        )
    time.sleep(1.0)
    instance = _start(live_server, "INV-11", case="unclaimed")
    time.sleep(1.5)  # three polls' time: a fetch still waiting would have locked the task
    (task,) = wes.get(f"{url}/external-task", params={"processInstanceId": instance}).json()
    assert task["workerId"] is None and task["lockExpirationTime"] is None


def test_the_async_camunda_worker_long_polls_and_completes_tasks_started_while_it_waits(
    live_server: LiveServer,
) -> None:
    _deploy(live_server)
    worker = AsyncExternalTaskWorker(
        worker_id="async-invoicer",
        base_url=live_server.url,
        config={
            "auth_basic": {"username": "wes", "password": password("wes")},
            "maxTasks": 2,
            "lockDuration": 10_000,
            "asyncResponseTimeout": 5_000,
            "sleepSeconds": 0,
        },
    )

    async def issue(task: ExternalTask) -> TaskResult:
        total = task.get_variable("invoice_total")
        return task.complete({"invoice_number": f"A-{total}", "paper_copies": 0})

    async def run() -> list[str]:
        subscription = asyncio.create_task(worker.subscribe({TOPIC: issue}))
        await asyncio.sleep(1.0)  # the worker's fetch is waiting now
        started = [
            await asyncio.to_thread(_start, live_server, f"INV-A{n}", case="async")
            for n in range(3)
        ]
        deadline = time.monotonic() + 20
        waiting: list[str] = []
        while time.monotonic() < deadline:
            waiting = [
                key
                for instance in started
                for key in await asyncio.to_thread(_open_tasks, live_server, instance)
            ]
            if waiting == ["Post_invoice"] * 3:
                break
            await asyncio.sleep(0.2)
        subscription.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await subscription
        return waiting

    assert asyncio.run(run()) == ["Post_invoice"] * 3
    numbers = {
        _variables(live_server, instance["id"])["invoice_number"]["value"]
        for instance in live_server.session("alice")
        .get(f"{live_server.url}/process-instance", params={"processDefinitionKey": "invoice"})
        .json()
    }
    assert numbers == {"A-120"}
