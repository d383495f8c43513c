"""The history service: what happened to an instance, oldest first, and process analysis."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from lxml import etree

from flowdesk._records import Document, HistoryEvent, ProcessReport
from flowdesk.engine import validation
from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.services import process_analysis
from flowdesk.errors import NotFound
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
        uow.instances.summary(instance_id)  # NotFound for an unknown id, not an empty list
        return [event_record(row) for row in uow.history.list(instance_id)]

    def documents(self, uow: UnitOfWork, instance_id: str) -> list[Document]:
        uow.instances.summary(instance_id)  # NotFound for an unknown id, not an empty list
        return [
            Document(
                name=row.name,
                media_type=row.media_type,
                content=row.content,
                instance_id=row.instance_id,
                element_id=row.element_id,
                created_at=row.created_at,
            )
            for row in uow.documents.list(instance_id)
        ]

    def report(
        self,
        uow: UnitOfWork,
        key: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ProcessReport:
        """Analyse the instances of `key` started in [since, until); see `ProcessReport`."""
        names, splits = _model_of(uow, key)
        events = uow.history.list_for_process(
            key, since=since, until=until, types=process_analysis.EVENT_TYPES
        )
        return process_analysis.analyse(key, events, names, splits=splits, since=since, until=until)


def _model_of(uow: UnitOfWork, key: str) -> tuple[dict[str, str], set[str]]:
    """What the report needs from the model, over every deployed version of `key`.

    Returns element id -> name (the newest version's name), and the ids of the elements with
    more than one outgoing sequence flow in some version.
    """
    versions = uow.definitions.list(kind=PROCESS, key=key)
    if not versions:
        raise NotFound("process", key)  # never deployed: a typo, not an idle process
    names: dict[str, str] = {}
    splits: set[str] = set()
    for definition in sorted(versions, key=lambda row: row.version, reverse=True):
        tree = validation.parse_xml(definition.xml.encode("utf-8"), definition.resource_name)
        sources: Counter[str] = Counter()
        for element in tree.getroot().iter():
            if not isinstance(element.tag, str):
                continue  # comments and processing instructions
            element_id, name = element.get("id"), element.get("name")
            if element_id and name:
                names.setdefault(element_id, name)
            source = element.get("sourceRef")
            if source and etree.QName(element).localname == "sequenceFlow":
                sources[source] += 1
        splits.update(source for source, count in sources.items() if count > 1)
    return names, splits
