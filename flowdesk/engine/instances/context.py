"""The engine context: what every engine service shares for the life of an `Engine`."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from flowdesk import handlers
from flowdesk.engine.deployment.repository import SpecCache
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff.workflow_cache import WorkflowCache
from flowdesk.store import Store

GroupsOf = Callable[[str], Collection[str]]


@dataclass
class EngineContext:
    """What every service shares: the store, the handlers, groups, and the caches of parsed
    specs and of deserialized workflows.

    The clock is not here: the facade installs it for each call (`timer_texts.using_clock`), and
    `now()` reads it from there, as SpiffWorkflow's timers do."""

    store: Store
    registry: handlers.HandlerRegistry
    groups_of: GroupsOf
    specs: SpecCache = field(default_factory=SpecCache)
    workflows: WorkflowCache = field(default_factory=WorkflowCache)

    def now(self) -> datetime:
        return timer_texts.now()
