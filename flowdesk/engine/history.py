"""The history service: what happened to an instance, oldest first."""

from __future__ import annotations

from flowdesk._records import HistoryEvent
from flowdesk.store import HistoryRow, UnitOfWork


def event_record(row: HistoryRow) -> HistoryEvent:
    return HistoryEvent(
        type=row.type,
        at=row.at,
        element_id=row.element_id,
        user=row.user,
        data=dict(row.data),
        instance_id=row.instance_id,
    )


class HistoryService:
    """Reads the append-only history table."""

    def history(self, uow: UnitOfWork, instance_id: str) -> list[HistoryEvent]:
        uow.instances.get(instance_id)  # NotFound for an unknown id, not an empty list
        return [event_record(row) for row in uow.history.list(instance_id)]
