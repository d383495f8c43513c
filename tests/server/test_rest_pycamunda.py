"""pycamunda (a Camunda 7 REST client from PyPI, written by others) against a live
`flowdesk serve`: deploy, start with typed variables, task lists, claim (refused by the
four-eyes rule, then granted), complete with typed variables, correlate a message."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pycamunda
import pycamunda.deployment
import pycamunda.message
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.task
import pytest
from requests.auth import HTTPBasicAuth
from rest_server import DATA, LiveServer


def _as(request: Any, server: LiveServer, user: str) -> Any:
    """The pycamunda request, sent as `user` (HTTP Basic)."""
    request.auth = HTTPBasicAuth(*server.auth(user))
    return request


def test_pycamunda_runs_an_order_from_deployment_to_its_end(live_server: LiveServer) -> None:
    url = live_server.url
    create = _as(pycamunda.deployment.Create(url=url, name="orders"), live_server, "alice")
    with ExitStack() as files:
        for name in ("rest_order.bpmn", "rest_events.bpmn", "rest_discount.dmn"):
            create.add_resource(files.enter_context((DATA / name).open("rb")))
        deployment = create()
    assert set(deployment.deployed_process_definitions) == {
        "rest_order:1",
        "rest_inquiry:1",
        "rest_restock:1",
        "rest_ratio:1",
    }
    assert deployment.deployed_process_definitions["rest_order:1"].resource == "rest_order.bpmn"

    definition = _as(pycamunda.processdef.Get(url=url, key="rest_order"), live_server, "alice")()
    assert (definition.id_, definition.name, definition.version) == (
        "rest_order:1",
        "REST order",
        1,
    )

    start = _as(
        pycamunda.processdef.StartInstance(url=url, key="rest_order", business_key="ORD-7"),
        live_server,
        "alice",
    )
    ordered_at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    start.add_variable("customer", "ACME", "String")
    start.add_variable("quantity", 12, "Integer")
    start.add_variable("ordered_at", pycamunda.base.isoformat(ordered_at), "Date")
    start.add_variable("express", True, "Boolean")
    instance = start()
    assert instance.business_key == "ORD-7"
    assert instance.definition_id == "rest_order:1"

    listed = _as(pycamunda.task.GetList(url=url, candidate_group="sales"), live_server, "dave")()
    (review,) = [t for t in listed if t.process_instance_id == instance.id_]
    assert review.name == "Review order"
    assert review.task_definition_key == "Review"

    # alice started the order: the model's four-eyes rule keeps her from reviewing it.
    with pytest.raises(pycamunda.Forbidden):
        _as(pycamunda.task.Claim(url=url, id_=review.id_, user_id="alice"), live_server, "alice")()
    # bob is no candidate (leadership, not sales).
    with pytest.raises(pycamunda.Forbidden):
        _as(pycamunda.task.Claim(url=url, id_=review.id_, user_id="bob"), live_server, "bob")()
    _as(pycamunda.task.Claim(url=url, id_=review.id_, user_id="dave"), live_server, "dave")()
    held = _as(pycamunda.task.GetList(url=url, assignee="dave"), live_server, "dave")()
    assert [t.id_ for t in held] == [review.id_]

    complete = _as(
        pycamunda.task.Complete(url=url, id_=review.id_, with_variables_in_return=True),
        live_server,
        "dave",
    )
    complete.add_variable("amount", 4200, "Long")
    complete.add_variable("approved", True, "Boolean")
    returned = complete()
    assert returned["amount"].type_ == "Integer" and returned["amount"].value == 4200
    assert returned["approved"].value is True
    assert returned["ordered_at"].type_ == "Date"
    assert pycamunda.base.from_isoformat(returned["ordered_at"].value) == ordered_at
    assert returned["quantity"].value == 12
    assert returned["initiator"].value == "alice"

    correlate = _as(
        pycamunda.message.CorrelateSingle(
            url=url, message_name="payment_received", business_key="ORD-7", result_enabled=True
        ),
        live_server,
        "bob",
    )
    correlate.add_process_variable("paid", 4200.5, "Double")
    (result,) = correlate()
    assert result.result_type == pycamunda.message.ResultType.execution
    assert result.execution.process_instance_id == instance.id_

    (ship,) = _as(
        pycamunda.task.GetList(url=url, process_instance_id=instance.id_), live_server, "carol"
    )()
    assert ship.task_definition_key == "Ship"
    _as(pycamunda.task.Complete(url=url, id_=ship.id_), live_server, "carol")()

    with pytest.raises(pycamunda.NotFound):  # ended: gone from the runtime, as in Camunda
        _as(pycamunda.processinst.Get(url=url, id_=instance.id_), live_server, "alice")()
    history = live_server.session("alice").get(f"{url}/history/process-instance/{instance.id_}")
    assert history.json()["state"] == "COMPLETED"
    assert history.json()["startUserId"] == "alice"


def test_pycamunda_starts_an_instance_with_a_message_and_sees_a_wrong_type_refused(
    live_server: LiveServer,
) -> None:
    url = live_server.url
    create = _as(pycamunda.deployment.Create(url=url, name="events"), live_server, "alice")
    with (DATA / "rest_events.bpmn").open("rb") as file:
        create.add_resource(file)
        create()

    correlate = _as(
        pycamunda.message.CorrelateSingle(
            url=url, message_name="inquiry_received", business_key="INQ-1", result_enabled=True
        ),
        live_server,
        "alice",
    )
    correlate.add_process_variable("question", "Price of 12 units?", "String")
    (result,) = correlate()
    assert result.result_type == pycamunda.message.ResultType.process_definition
    assert result.process_instance.business_key == "INQ-1"

    wrong = _as(pycamunda.processdef.StartInstance(url=url, key="rest_ratio"), live_server, "alice")
    wrong.add_variable("divisor", "two", "Integer")
    with pytest.raises(pycamunda.BadRequest, match="divisor"):
        wrong()
    nothing = _as(pycamunda.processinst.GetList(url=url), live_server, "alice")()
    assert [p.business_key for p in nothing] == ["INQ-1"]  # the refused start stored nothing
