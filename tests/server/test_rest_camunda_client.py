"""camunda-client (an async Camunda 7 REST client from PyPI, written by others, whose pydantic
models check every response's shape) against a live `flowdesk serve`: start, query, claim and
unclaim, set variables, a form refused then submitted, correlation by key, incidents, delete
and history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
from camunda_client.clients.dto import AuthData
from camunda_client.clients.engine.client import CamundaEngineClient
from camunda_client.clients.engine.schemas import (
    GetHistoryTasksFilterSchema,
    GetTasksFilterSchema,
    ProcessInstanceQuerySchema,
    SendCorrelationMessageSchema,
)
from camunda_client.clients.engine.schemas.body import (
    HistoricProcessInstanceFilterSchema,
    UpdateProcessVariablesSchema,
)
from camunda_client.clients.engine.schemas.enums import State
from camunda_client.exceptions import CamundaClientError
from camunda_client.types_ import VariableValueSchema
from rest_server import DATA, LiveServer, password


class _Clients:
    """One camunda-client per user, all closed when the flow ends (the package has no close;
    its httpx client is closed directly)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.made: list[CamundaEngineClient] = []

    def __call__(self, user: str) -> CamundaEngineClient:
        client = CamundaEngineClient(
            base_url=self.server.url,
            auth_data=AuthData(username=user, password=password(user)),
            transport=httpx.AsyncHTTPTransport(),
            timeout=httpx.Timeout(30.0),
        )
        self.made.append(client)
        return client

    async def __aenter__(self) -> _Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.made:
            await client._http_client.aclose()


def _deploy(server: LiveServer) -> None:
    files = [
        ("upload", (name, (DATA / name).read_bytes()))
        for name in ("rest_order.bpmn", "rest_events.bpmn", "rest_discount.dmn")
    ]
    response = server.session("alice").post(
        f"{server.url}/deployment/create", data={"deployment-name": "rest"}, files=files
    )
    assert response.status_code == 200, response.text


def test_camunda_client_works_an_order_and_reads_its_history(live_server: LiveServer) -> None:
    _deploy(live_server)
    asyncio.run(_order_flow(live_server))


async def _order_flow(server: LiveServer) -> None:
    async with _Clients(server) as client:
        await _order_steps(client("alice"), client("dave"), client("carol"))


async def _order_steps(
    alice: CamundaEngineClient, dave: CamundaEngineClient, carol: CamundaEngineClient
) -> None:
    instance = await alice.start_process(
        "rest_order",
        business_key="ORD-9",
        variables={
            "customer": VariableValueSchema(value="ACME", type="String"),
            "lines": VariableValueSchema(value='[{"sku": "A-1", "qty": 2}]', type="Json"),
            "discount": VariableValueSchema(value=0.05, type="Double"),
        },
    )
    assert instance.business_key == "ORD-9"
    running = await alice.get_process_instances(
        ProcessInstanceQuerySchema(process_definition_key="rest_order")
    )
    assert [p.id for p in running] == [instance.id]

    # dave is a candidate through his group (sales): Camunda's candidateUser query.
    (review,) = await dave.get_tasks(GetTasksFilterSchema(candidate_user="dave"))
    assert review.process_instance_id == instance.id and review.assignee is None
    await dave.claim_task(review.id, "dave")  # type: ignore[arg-type]
    assert (await dave.get_task(review.id)).assignee == "dave"  # type: ignore[union-attr]
    await dave.unclaim_task(review.id)
    assert (await dave.get_task(review.id)).assignee is None  # type: ignore[union-attr]
    await dave.claim_task(review.id, "dave")  # type: ignore[arg-type]
    assert (await dave.get_tasks_count(GetTasksFilterSchema(assignee="dave"))).count == 1

    await alice.update_variable_instances(
        process_instance_id=instance.id,
        schema=UpdateProcessVariablesSchema(
            modifications={"priority": VariableValueSchema(value=2, type="Integer")}
        ),
    )
    # The form's required amount is missing: 400, and the task stays open.
    with pytest.raises(CamundaClientError) as refused:
        await dave.submit_task_form(review.id, {"approved": VariableValueSchema(value=True)})
    assert refused.value.status_code == 400
    assert b"amount" in refused.value.response_data
    # carol is no candidate: 403 with Camunda's AuthorizationException.
    with pytest.raises(CamundaClientError) as forbidden:
        await carol.submit_task_form(review.id, {"amount": VariableValueSchema(value=10)})
    assert forbidden.value.status_code == 403
    assert b"AuthorizationException" in forbidden.value.response_data
    await dave.submit_task_form(review.id, {"amount": VariableValueSchema(value=900, type="Long")})

    await alice.send_correlation_message(
        SendCorrelationMessageSchema(
            message_name="payment_received",
            correlation_keys={"customer": VariableValueSchema(value="ACME", type="String")},
        )
    )
    (ship,) = await carol.get_tasks(GetTasksFilterSchema(process_instance_id=instance.id))
    assert ship.task_definition_key == "Ship"

    history = await alice.get_history_tasks(
        GetHistoryTasksFilterSchema(process_instance_id=instance.id)
    )
    assert [(t.task_definition_key, t.assignee, t.end_time is not None) for t in history] == [
        ("Review", "dave", True),
        ("Ship", None, False),
    ]

    await alice.delete_process(str(instance.id))
    (ended,) = await alice.get_history_process_instances(
        HistoricProcessInstanceFilterSchema(process_instance_id=str(instance.id))
    )
    assert ended.state == State.EXTERNALLY_TERMINATED
    assert ended.start_user_id == "alice" and ended.end_time is not None
    assert await alice.get_process_instances(ProcessInstanceQuerySchema()) == []


def test_camunda_client_lists_the_incident_of_a_failed_script(live_server: LiveServer) -> None:
    _deploy(live_server)
    asyncio.run(_incident_flow(live_server))


async def _incident_flow(server: LiveServer) -> None:
    async with _Clients(server) as client:
        await _incident_steps(client("alice"))


async def _incident_steps(alice: CamundaEngineClient) -> None:
    started_at = datetime.now(UTC).replace(microsecond=0)
    failed = await alice.start_process(
        "rest_ratio", variables={"divisor": VariableValueSchema(value=0, type="Integer")}
    )
    (incident,) = await alice.get_incidents()
    assert incident.process_instance_id == failed.id
    assert "division by zero" in (incident.incident_message or "")
    assert incident.incident_timestamp is not None and incident.incident_timestamp >= started_at
    assert isinstance(incident.id, UUID)
    # A running instance with an incident is ACTIVE in Camunda's history.
    (shown,) = await alice.get_history_process_instances(
        HistoricProcessInstanceFilterSchema(process_instance_id=str(failed.id))
    )
    assert shown.state == State.ACTIVE
