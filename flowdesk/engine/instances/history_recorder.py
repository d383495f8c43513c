"""The history events one instance records during a call, inserted together.

An `Execution` and its parts (`task_rows`, `external_task_rows`) record into one
`HistoryRecorder`; the events wait in memory and go to the store in one INSERT when the
execution writes them (`write`), in the order they were recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowdesk._records import HistoryEventType
from flowdesk.engine.instances.context import EngineContext
from flowdesk.store import UnitOfWork


class HistoryRecorder:
    """The events of one instance not yet written; `write` inserts them."""

    __slots__ = ("_ctx", "_events", "_instance_id", "_uow")

    def __init__(self, ctx: EngineContext, uow: UnitOfWork, instance_id: str) -> None:
        self._ctx = ctx
        self._uow = uow
        self._instance_id = instance_id
        self._events: list[dict[str, Any]] = []

    def record(
        self,
        type_: HistoryEventType,
        *,
        element_id: str | None = None,
        user: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep one event, stamped with the engine's clock now."""
        self._events.append(
            {
                "instance_id": self._instance_id,
                "type": type_,
                "at": self._ctx.now(),
                "element_id": element_id,
                "user": user,
                "data": dict(data or {}),
            }
        )

    def write(self) -> None:
        """Insert the events recorded so far, in their order, and forget them."""
        if self._events:
            self._uow.history.add_many(self._events)
            self._events = []


def jsonable(value: Any) -> Any:
    """Variables as the history keeps them: JSON types, dates as ISO text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no NaN: as text
        return repr(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value)
