"""Deserialized workflows kept between calls, so that a step does not load what it just saved.

Loading a workflow from its JSON (SpiffWorkflow's `from_dict`) is a large part of a step's
cost. After a call commits, the workflow it saved is kept here, keyed by instance id and the
lock version it was saved with; the next call on that instance takes it instead of loading
the row's state, when the row it reads still has that lock version. Why that is safe:

- **Across processes and engines**: every save raises the row's lock version, so a workflow
  another process saved since is a different version here, and the kept one is a miss.
- **Across threads**: `take` removes the entry; two calls never hold one workflow object.
- **Failed calls**: a workflow goes back only after its unit of work committed (the store's
  `after_commit`). A call that fails or rolls back may have changed the object half-way; it
  is not kept, and the next call loads the stored state.
- **The same result as loading**: a workflow is kept only when loading its stored JSON would
  give back the same values (`round_trips`): plain JSON values, datetimes with a fixed
  offset, timedeltas and UUIDs in its data. Anything else (a tuple, a set, a datetime with a
  named zone, an object) becomes something else through JSON, so such a workflow is loaded
  again each time, exactly as before this cache.

The cache is bounded (least recently kept first out) and belongs to one `Engine`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

# Instances whose workflow is kept per Engine: enough for the instances a busy worker
# alternates between, small enough not to matter in memory (a workflow is a few KB).
DEFAULT_SIZE = 256

_SCALARS = (str, int, float, bool, type(None), timedelta, UUID)


class WorkflowCache:
    """A bounded, thread-safe map of instance id -> (lock version, workflow).

    Args:
        size: At most this many workflows are kept; 0 keeps none.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: str, lock_version: int) -> Any | None:
        """The workflow kept for this instance at this lock version, removed from the cache;
        None (and the entry dropped) when there is none or it is of another version."""
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        if entry is None or entry[0] != lock_version:
            return None
        return entry[1]

    def keep(self, instance_id: str, lock_version: int, workflow: Any) -> None:
        """Keep a workflow as saved at `lock_version` (an entry of a newer version stays)."""
        if self._size <= 0:
            return
        with self._lock:
            current = self._entries.get(instance_id)
            if current is not None and current[0] > lock_version:
                return
            self._entries[instance_id] = (lock_version, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def round_trips(workflow: Any) -> bool:
    """Whether loading this workflow's JSON would give back equal values everywhere a step
    reads them: the data and internal data of the workflow, its sub-workflows and tasks."""
    if workflow.bpmn_events:
        return False
    for each in (workflow, *workflow.subprocesses.values()):
        if not (_plain(each.data) and _plain(each.correlations)):
            return False
        for task in each.tasks.values():
            if not (_plain(task.data) and _plain(task.internal_data)):
                return False
    return True


def reset_event_registry(workflow: Any) -> None:
    """Register the waiting catch events as loading does (`TaskConverter.from_dict`).

    A live workflow's event manager may still list tasks that were removed from the tree;
    a loaded one lists exactly the waiting catch events, in task order.
    """
    tasks = workflow.event_manager.tasks
    tasks.clear()
    for each in (workflow, *workflow.subprocesses.values()):
        for task in each.tasks.values():
            if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
                tasks[task.id] = task


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is datetime:
        # fromisoformat gives a fixed offset back: a named zone (DST rules) would be lost.
        return value.tzinfo is None or type(value.tzinfo) is timezone
    return kind in _SCALARS
