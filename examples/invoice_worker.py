"""Invoice (examples/invoice.bpmn): an external task served by a worker, as Camunda 7 runs it.

The service task `Issue invoice` has `camunda:type="external"` and topic `invoicing`: the
engine runs nothing there, the instance waits until a worker fetches and locks the task. Here
flowdesk's in-process `ExternalTaskWorker` serves the topic with a handler; a Camunda 7
worker (for example camunda-external-task-client-python3) can serve the same topic over
`flowdesk serve` instead (see docs/external-tasks.md). The first order is invoiced with two
paper copies; the second customer's credit is blocked, so the worker throws the BPMN error
that the boundary event catches.

Run from anywhere: `python examples/invoice_worker.py`. The database is a SQLite file in a
temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import flowdesk
from flowdesk.external_worker import ExternalTaskWorker

MODEL = Path(__file__).with_name("invoice.bpmn")
BLOCKED_CUSTOMERS = {"Lotus Trading"}


def issue_invoice(call: flowdesk.ServiceCall) -> dict[str, Any]:
    """The worker's handler: the task's variables in, the variables to complete it with out."""
    customer = call.variables["customer"]
    if customer in BLOCKED_CUSTOMERS:
        raise flowdesk.BpmnError("CREDIT_BLOCKED", f"{customer} is over its credit limit")
    total = call.variables["invoice_total"]  # the task's input parameter
    print(f"  worker: invoice for {customer}, {total} CNY, as {call.properties['format']}")
    return {"invoice_no": f"INV-{call.business_key}", "paper_copies": 2}


def main() -> None:
    registry = flowdesk.HandlerRegistry()
    registry.register_service("invoicing", issue_invoice)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'invoices.db'}"
        with flowdesk.Engine(url, handlers=registry, load_entry_points=False) as engine:
            engine.deploy(MODEL)
            orders = {
                "SO-1": {"customer": "Huadong Coatings", "quantity": 120, "unit_price": 35},
                "SO-2": {"customer": "Lotus Trading", "quantity": 10, "unit_price": 35},
            }
            for order, variables in orders.items():
                engine.start("invoice", variables, business_key=order)
            waiting = [task.topic for task in engine.external_tasks()]
            print(f"waiting for a worker: {len(waiting)} task(s) on topic {waiting[0]!r}")

            done = ExternalTaskWorker(engine, ["invoicing"]).run_once()
            print(f"worker pass: {done.completed} completed, {done.bpmn_errors} BPMN error(s)")

            for instance in engine.instances(key="invoice"):
                (task,) = engine.tasks(instance_id=instance.id)
                found = instance.variables
                outcome = (
                    found.get("invoice_no") or f"{found['block_code']}: {found['block_reason']}"
                )
                print(f"{instance.business_key}: next {task.name!r} ({outcome})")
                engine.complete(task.id, {})
                assert engine.instance(instance.id).state == "completed"


if __name__ == "__main__":
    main()
