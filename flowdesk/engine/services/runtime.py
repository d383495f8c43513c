"""The runtime service: start instances, correlate messages, read and retry instances."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from flowdesk._records import HistoryEventType, ProcessInstance, Wait
from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.instances import correlation, saving, variable_types
from flowdesk.engine.instances.execution import EngineContext, Execution
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.services.state_filters import state_filter
from flowdesk.engine.spiff import start_events
from flowdesk.engine.spiff.waits import WaitKind
from flowdesk.errors import InstanceStateError, NotFound
from flowdesk.store import InstanceRow, InstanceState, UnitOfWork


def instance_record(row: InstanceRow) -> ProcessInstance:
    return ProcessInstance(
        id=row.id,
        key=row.process_key,
        version=row.version,
        business_key=row.business_key,
        state=row.state,
        variables=variable_types.decode(row.variables),
        started_at=row.started_at,
        ended_at=row.ended_at,
        incident=row.incident,
        parent_id=row.parent_instance_id,
    )


class RuntimeService:
    """Starts and moves process instances."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    def start(
        self,
        uow: UnitOfWork,
        key: str,
        variables: Mapping[str, Any],
        *,
        business_key: str | None,
        user: str | None,
        version: int | None = None,
    ) -> ProcessInstance:
        if version is None:  # the id only: the deployed version itself is cached
            latest = uow.definitions.latest_id(PROCESS, key)
            definition = None if latest is None else self._ctx.specs.definition(uow, latest)
        else:
            definition = uow.definitions.find_version(PROCESS, key, version)
        if definition is None:
            ident = key if version is None else f"{key}:{version}"
            raise NotFound("process definition", ident)
        # Camunda 7 begins at the process's initial start event and runs straight through it,
        # whatever it catches (see `start_events`).
        initial = start_events.initial_start(self._ctx.specs.bundle(uow, definition).spec, key)
        with contextlib.ExitStack() as stack:
            if initial.kind == "timer":  # the timer's own code lets the instance go on
                stack.enter_context(timer_texts.starting_by_timer(initial.element_id))
            execution = Execution.start(
                self._ctx,
                uow,
                definition,
                variables,
                business_key=business_key,
                user=user,
                begin_at=initial.element_id if initial.kind not in ("none", "timer") else None,
            )
        return instance_record(saving.save(execution))

    def correlate(
        self,
        uow: UnitOfWork,
        message_name: str,
        *,
        business_key: str | None,
        correlation_keys: Mapping[str, Any] | None,
        variables: Mapping[str, Any],
    ) -> ProcessInstance:
        row = saving.run(
            correlation.correlate(
                self._ctx,
                uow,
                message_name,
                business_key=business_key,
                correlation_keys=correlation_keys,
                variables=variables,
            )
        )
        return instance_record(row)

    def signal(self, uow: UnitOfWork, signal_name: str, variables: Mapping[str, Any]) -> int:
        return saving.run(correlation.broadcast(self._ctx, uow, signal_name, variables))

    def instance(self, uow: UnitOfWork, instance_id: str) -> ProcessInstance:
        return instance_record(uow.instances.summary(instance_id))

    def instances(
        self,
        uow: UnitOfWork,
        *,
        key: str | None,
        state: str | None,
        business_key: str | None,
        parent_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> list[ProcessInstance]:
        rows = uow.instances.list(
            process_key=key,
            state=state_filter(state, InstanceState, "instance"),
            business_key=business_key,
            parent_instance_id=parent_id,
            variables=variables,
        )
        return [instance_record(row) for row in rows]

    def retry(self, uow: UnitOfWork, instance_id: str, *, user: str | None) -> ProcessInstance:
        execution = Execution.open(self._ctx, uow, instance_id)
        if execution.row.state != InstanceState.INCIDENT.value:
            raise InstanceStateError(
                instance_id, execution.row.state, "only an instance in incident can be retried"
            )
        execution.history.record(HistoryEventType.INCIDENT_RETRIED, user=user)
        execution.run.retry()
        return instance_record(saving.save(execution))

    def trigger(
        self, uow: UnitOfWork, instance_id: str, element_id: str, variables: Mapping[str, Any]
    ) -> ProcessInstance:
        execution = Execution.open(self._ctx, uow, instance_id)
        state = execution.row.state
        if state != InstanceState.RUNNING.value:
            raise InstanceStateError(instance_id, state, "only a running instance can be triggered")
        if not execution.run.trigger(element_id, variables):
            raise InstanceStateError(
                instance_id, state, f"no receive task {element_id!r} waits for a trigger"
            )
        return instance_record(saving.save(execution))

    def waits(self, uow: UnitOfWork, instance_id: str) -> list[Wait]:
        row = uow.instances.get(instance_id)
        if row.state in _ENDED or row.workflow_state is None:
            return []
        execution = Execution.open(self._ctx, uow, instance_id)
        return [
            Wait(
                instance_id=instance_id,
                element_id=wait.element_id,
                kind=wait.kind.value,
                name=wait.name if wait.kind in (WaitKind.MESSAGE, WaitKind.SIGNAL) else None,
                due_at=wait.due_at,
            )
            for wait in execution.run.waits()
        ]


_ENDED = frozenset({InstanceState.COMPLETED.value, InstanceState.TERMINATED.value})
