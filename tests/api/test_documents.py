"""Service handlers attach documents; they are stored with the instance when the step holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from conftest import DATA

import flowdesk


class Writers:
    """The two service handlers of `documents.bpmn`; the letter writer fails while `broken`."""

    def __init__(self) -> None:
        self.broken = False
        self.seen_now: list[Any] = []

    def register(self, registry: flowdesk.HandlerRegistry) -> None:
        registry.register_service("quoteWriter", self.quote)
        registry.register_service("letterWriter", self.letter)

    def quote(self, call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        self.seen_now.append(call.now)
        call.attach(
            f"Quotation {call.business_key}", f"# Quotation\n\nTotal: {call.variables['total']}"
        )
        return {"quoted": True}

    def letter(self, call: flowdesk.ServiceCall) -> None:
        call.attach("Cover letter", "<p>Dear customer</p>", "text/html")
        if self.broken:
            raise RuntimeError("mail merge server is down")


@pytest.fixture
def writers(engine: flowdesk.Engine) -> Writers:
    writers = Writers()
    writers.register(engine.handlers)
    engine.deploy(DATA / "documents.bpmn")
    return writers


def test_documents__attached_by_handlers_are_stored_in_order_with_their_step(
    engine, writers, clock
) -> None:
    instance = engine.start("quoting", {"total": 1200}, business_key="Q-7")

    documents = engine.documents(instance.id)

    assert [(d.name, d.media_type, d.element_id) for d in documents] == [
        ("Quotation Q-7", "text/markdown", "Task_quote"),
        ("Cover letter", "text/html", "Task_letter"),
    ]
    assert documents[0].content == "# Quotation\n\nTotal: 1200"
    assert {d.created_at for d in documents} == {clock.now}
    assert {d.instance_id for d in documents} == {instance.id}
    created = [e for e in engine.history(instance.id) if e.type == "document_created"]
    assert [e.data["name"] for e in created] == ["Quotation Q-7", "Cover letter"]


def test_service_call__now_is_the_engine_clock(engine, writers, clock) -> None:
    engine.start("quoting", {"total": 1})

    assert writers.seen_now == [clock.now]


def test_documents__of_a_failing_handler_are_not_stored_and_retry_stores_them_once(
    engine, writers
) -> None:
    writers.broken = True
    instance = engine.start("quoting", {"total": 5}, business_key="Q-8")
    assert engine.instance(instance.id).state == "incident"
    assert [d.name for d in engine.documents(instance.id)] == ["Quotation Q-8"]

    writers.broken = False
    engine.retry(instance.id)

    assert [d.name for d in engine.documents(instance.id)] == ["Quotation Q-8", "Cover letter"]


def test_documents__of_an_unknown_instance_raise_not_found(engine) -> None:
    with pytest.raises(flowdesk.NotFound):
        engine.documents("no-such-instance")
