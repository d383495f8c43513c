"""`Engine.diagram`: the SVG of a deployed process, or of an instance with its state marked.

The drawing itself is `flowdesk.diagrams`; this module finds the stored BPMN text and turns
what the store knows about an instance into a `DiagramState`:

- completed: the history's `activity_completed` and `task_completed` events, by element;
- chosen: the elements each gateway sent its tokens to (`activity_completed` data "next");
- waiting: open user tasks, the events the instance waits for (`Engine.waits`), async
  continuations not yet run, and call activities whose called instance is still running;
- incidents: failed jobs, and the element of the instance's open incident.

Taken sequence flows are derived from those by `flowdesk.diagrams` (see `DiagramState`).
"""

from __future__ import annotations

from collections import Counter

from flowdesk.diagrams import DiagramState, render_svg
from flowdesk.engine.services.runtime import RuntimeService
from flowdesk.engine.services.tasks import TaskService
from flowdesk.errors import NotFound
from flowdesk.store import DefinitionRow, HistoryRow, InstanceState, JobState, JobType, UnitOfWork

PROCESS = "process"
_RUNNING = frozenset({InstanceState.RUNNING.value, InstanceState.INCIDENT.value})


class DiagramView:
    """Draws definitions and instances from the store, inside the caller's transaction."""

    def __init__(self, runtime: RuntimeService, tasks: TaskService) -> None:
        self._runtime = runtime
        self._tasks = tasks

    def diagram(self, uow: UnitOfWork, key_or_instance_id: str, *, version: int | None) -> str:
        definition = (
            uow.definitions.latest(PROCESS, key_or_instance_id)
            if version is None
            else uow.definitions.find_version(PROCESS, key_or_instance_id, version)
        )
        if definition is not None:
            return _render(definition, None)
        if version is not None:
            raise NotFound("process definition", f"{key_or_instance_id} version {version}")
        try:
            instance = uow.instances.summary(key_or_instance_id)
        except NotFound:
            raise NotFound("process definition or instance", key_or_instance_id) from None
        definition = uow.definitions.get(instance.definition_id)
        return _render(definition, self.instance_state(uow, key_or_instance_id))

    def instance_state(self, uow: UnitOfWork, instance_id: str) -> DiagramState:
        """What the instance did and where it stands, by element id."""
        instance = uow.instances.summary(instance_id)
        history = uow.history.list(instance_id)
        completed: Counter[str] = Counter()
        chosen: dict[str, set[str]] = {}
        for event in history:
            if event.element_id and event.type in ("activity_completed", "task_completed"):
                completed[event.element_id] += 1
                following = event.data.get("next")
                if isinstance(following, list):
                    chosen.setdefault(event.element_id, set()).update(map(str, following))
        waiting: Counter[str] = Counter()
        incidents: Counter[str] = Counter()
        if instance.state in _RUNNING:
            open_tasks = self._tasks.tasks(
                uow,
                instance_id=instance_id,
                assignee=None,
                candidate_group=None,
                candidate_user=None,
                key=None,
                business_key=None,
                state="open",
            )
            waiting.update(task.element_id for task in open_tasks)
            waiting.update(wait.element_id for wait in self._runtime.waits(uow, instance_id))
            for job in uow.jobs.list(instance_id=instance_id):
                if job.state == JobState.FAILED.value:
                    incidents[job.element_id] += 1
                elif job.type == JobType.ASYNC:
                    waiting[job.element_id] += 1
            waiting.update(_running_calls(uow, instance_id, history))
        if instance.state == InstanceState.INCIDENT.value:
            element_id = _open_incident_element(history)
            if element_id and not incidents.get(element_id):
                incidents[element_id] += 1
        return DiagramState(
            completed=dict(completed),
            waiting=dict(waiting),
            incidents=dict(incidents),
            chosen={gateway: frozenset(targets) for gateway, targets in chosen.items()},
        )


def _render(definition: DefinitionRow, state: DiagramState | None) -> str:
    return render_svg(
        definition.xml,
        process_key=definition.key,
        state=state,
        title=definition.name or definition.key,
    )


def _running_calls(uow: UnitOfWork, instance_id: str, history: list[HistoryRow]) -> list[str]:
    """The call activities whose called instance still runs (one entry per such instance)."""
    started = {
        str(event.data.get("instance_id")): event.element_id
        for event in history
        if event.type == "call_started" and event.element_id
    }
    calls: list[str] = []
    for child in uow.instances.list(parent_instance_id=instance_id):
        element_id = started.get(child.id)
        if child.state in _RUNNING and element_id:
            calls.append(element_id)
    return calls


def _open_incident_element(history: list[HistoryRow]) -> str | None:
    """The element of the last incident not retried since."""
    for event in reversed(history):
        if event.type == "incident_retried":
            return None
        if event.type == "incident":
            return event.element_id
    return None
