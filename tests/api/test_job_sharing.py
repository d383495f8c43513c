"""Workers share the due jobs: a busy worker leases only the few it is about to run.

A pass reads the jobs due at its start and leases them `ACQUIRE_AT_ONCE` at a time, so a second
worker that passes while the first is still busy runs the jobs the first has not reached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from conftest import DATA

import flowdesk
from flowdesk.engine.services.job_executor import ACQUIRE_AT_ONCE

ORDERS = [f"A-{n}" for n in range(ACQUIRE_AT_ONCE + 2)]


@pytest.mark.postgresql
def test_a_second_worker_runs_the_jobs_a_busy_worker_has_not_leased_yet(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first, second = make_engine(), make_engine()
    charged_by: dict[str, str] = {}
    second_ran: list[int] = []

    def charge_in_first(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        charged_by[call.variables["order"]] = "first"
        if not second_ran:  # while the first worker is busy with its first job
            second_ran.append(second.run_due_jobs())
        return {"charged": True}

    def charge_in_second(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        charged_by[call.variables["order"]] = "second"
        return {"charged": True}

    first.handlers.register_service("paymentGateway", charge_in_first)
    second.handlers.register_service("paymentGateway", charge_in_second)
    first.deploy(DATA / "async_payment.bpmn")
    instances = [first.start("async_payment", {"order": order}) for order in ORDERS]

    assert first.run_due_jobs() == ACQUIRE_AT_ONCE
    assert second_ran == [len(ORDERS) - ACQUIRE_AT_ONCE]
    assert sorted(charged_by) == sorted(ORDERS)  # every order charged, each once
    assert list(charged_by.values()).count("second") == len(ORDERS) - ACQUIRE_AT_ONCE
    for instance in instances:
        assert [t.element_id for t in first.tasks(instance_id=instance.id)] == ["Task_ship"]
    assert first.jobs() == []


def test_one_pass_runs_only_the_jobs_due_when_it_started_and_at_most_its_limit(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    charged: list[str] = []

    def charge(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        charged.append(call.variables["order"])
        return {"charged": True}

    engine.handlers.register_service("paymentGateway", charge)
    engine.deploy(DATA / "async_payment.bpmn")
    for order in ORDERS:
        engine.start("async_payment", {"order": order})

    assert engine.run_due_jobs(limit=len(ORDERS) - 1) == len(ORDERS) - 1
    assert engine.run_due_jobs(limit=len(ORDERS)) == 1
    assert sorted(charged) == sorted(ORDERS)
    assert engine.run_due_jobs() == 0
