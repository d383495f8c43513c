"""Business processes shipped with flowdesk; each uses only the public `flowdesk` API.

Each module holds what its BPMN file cannot: a start helper with typed variables, the
handlers its service tasks and user tasks need, and the templates of its documents.
`register` is the `flowdesk.handlers` entry point, so every engine an installed flowdesk
builds runs the shipped processes' service tasks.
"""

from __future__ import annotations

from flowdesk.handlers import HandlerRegistry
from flowdesk.processes import (
    complaint_handling,
    consulting_engagement,
    customers,
    demand_confirmation,
    documents,
    order_review,
    presales,
)

PROCESS_MODULES = (
    presales,
    demand_confirmation,
    order_review,
    consulting_engagement,
    customers,
    complaint_handling,
)
"""The modules whose `register` `register` calls, after the shared `documents` service."""


def register(registry: HandlerRegistry) -> None:
    """Register every shipped process's handlers (the customer archive access among them)
    and the document renderer they share."""
    documents.register(registry)
    for module in PROCESS_MODULES:
        module.register(registry)
