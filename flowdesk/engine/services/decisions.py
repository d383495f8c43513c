"""`Engine.evaluate_decision`: evaluate a deployed decision directly, outside any process."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flowdesk.engine import validation
from flowdesk.engine.deployment.repository import DECISION
from flowdesk.engine.dmn import evaluation, model, reader
from flowdesk.errors import BpmnValidationError, NotFound
from flowdesk.store import DefinitionRow, UnitOfWork


class DecisionService:
    """Evaluates deployed decisions; each deployed file is read once per engine."""

    def __init__(self) -> None:
        self._graphs: dict[int, model.DecisionGraph] = {}
        self._lock = threading.Lock()

    def evaluate(
        self,
        uow: UnitOfWork,
        key: str,
        variables: Mapping[str, Any],
        *,
        version: int | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """Evaluate the latest (or the given) version of a decision.

        Raises:
            NotFound: No decision with this key (and version) is deployed.
            DecisionError: The decision fails for these variables.
        """
        row = (
            uow.definitions.latest(DECISION, key)
            if version is None
            else uow.definitions.find_version(DECISION, key, version)
        )
        if row is None:
            raise NotFound("decision", key if version is None else f"{key}:{version}")
        graph = self._graph(row)
        return evaluation.evaluate(graph, key, variables).value()

    def _graph(self, row: DefinitionRow) -> model.DecisionGraph:
        with self._lock:
            cached = self._graphs.get(row.id)
        if cached is not None:
            return cached
        tree = validation.parse_xml(row.xml.encode("utf-8"), row.resource_name)
        graph, problems = reader.read(tree.getroot(), row.resource_name)
        if problems:
            raise BpmnValidationError(problems)
        with self._lock:
            self._graphs[row.id] = graph
        return graph
