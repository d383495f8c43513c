"""The decisions a parser knows: from the DMN files fed to it, by decision id (and version)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from flowdesk.engine.dmn import evaluation, model, reader
from flowdesk.errors import BpmnValidationError


@dataclass(frozen=True, slots=True)
class DecisionModel:
    """One decision, ready to evaluate, with the file that holds its required decisions."""

    graph: model.DecisionGraph
    decision_id: str

    def evaluate(self, variables: Mapping[str, Any]) -> evaluation.DecisionResult:
        """Evaluate the decision (its required decisions first) against variables.

        Raises:
            DecisionError: A cell fails, or the hit policy is violated.
        """
        return evaluation.evaluate(self.graph, self.decision_id, variables)


class DecisionRegistry:
    """Decisions by id, each as last added; and pinned versions for `decisionRefBinding`."""

    def __init__(self) -> None:
        self._latest: dict[str, DecisionModel] = {}
        self._pinned: dict[tuple[str, int], DecisionModel] = {}

    def add(
        self, root: etree._Element, filename: str, *, pinned: tuple[str, int] | None = None
    ) -> None:
        """Read a DMN file's decisions.

        Args:
            root: The file's `definitions` element.
            filename: The file's name, for problems.
            pinned: `(decision id, version)` when the file is added as that one version of
                that decision (a business rule task bound to a version); its decisions are
                then not offered as the latest.

        Raises:
            BpmnValidationError: The file has problems (stored files passed this at deploy).
        """
        graph, problems = reader.read(root, filename)
        if problems:
            raise BpmnValidationError(problems)
        if pinned is not None:
            key, version = pinned
            if key in graph.decisions:
                self._pinned[(key, version)] = DecisionModel(graph, key)
            return
        for decision_id in graph.decisions:
            self._latest[decision_id] = DecisionModel(graph, decision_id)

    def find(self, decision_id: str, version: int | None = None) -> DecisionModel | None:
        """A decision by id: the latest added, or the pinned version."""
        if version is not None:
            return self._pinned.get((decision_id, version))
        return self._latest.get(decision_id)
