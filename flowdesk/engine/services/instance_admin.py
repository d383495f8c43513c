"""Calls that act on an instance from outside its model: delete it, set its variables, read a
definition's XML. Camunda 7's `RuntimeService.deleteProcessInstance`, `setVariables` and
`RepositoryService.getProcessModel`; the REST API (`flowdesk.server`) reaches them through
`Engine`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdesk._records import HistoryEventType, ProcessInstance
from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.instances import saving
from flowdesk.engine.instances.execution import EngineContext, Execution, terminate
from flowdesk.engine.services.runtime import instance_record
from flowdesk.errors import InstanceStateError, NotFound
from flowdesk.store import InstanceState, UnitOfWork

_ENDED = frozenset({InstanceState.COMPLETED.value, InstanceState.TERMINATED.value})


def delete_instance(
    ctx: EngineContext, uow: UnitOfWork, instance_id: str, *, reason: str | None, user: str | None
) -> ProcessInstance:
    """End a running (or failed) instance where it stands, with the instances it called.

    Its open tasks are cancelled and its jobs and subscriptions removed, as Camunda's
    `deleteProcessInstance` does; the history keeps a `instance_terminated` event with the
    reason and who asked. No end listeners run (Camunda's `skipCustomListeners`).

    Raises:
        NotFound: No such instance.
        InstanceStateError: The instance has already ended.
    """
    row = uow.instances.get(instance_id)
    if row.state in _ENDED:
        raise InstanceStateError(instance_id, row.state, "it has already ended")
    said = reason or "deleted"
    terminate(ctx, uow, instance_id, reason=said if user is None else f"{said} (by {user})")
    return instance_record(uow.instances.summary(instance_id))


def set_variables(
    ctx: EngineContext,
    uow: UnitOfWork,
    instance_id: str,
    variables: Mapping[str, Any],
    *,
    user: str | None,
) -> ProcessInstance:
    """Set process variables of a running instance, and let it go on where that decides it.

    Raises:
        NotFound: No such instance.
        InstanceStateError: The instance is not running: it has ended, or it is in incident
            (its failed step is retried with `retry`; saving it here would clear the incident).
    """
    row = uow.instances.get(instance_id)
    if row.state != InstanceState.RUNNING.value:
        raise InstanceStateError(instance_id, row.state, "only a running instance takes variables")
    execution = Execution.open(ctx, uow, instance_id)
    execution.history.record(
        HistoryEventType.VARIABLES_SET, user=user, data={"names": sorted(variables)}
    )
    execution.run.set_variables(variables)
    return instance_record(saving.save(execution))


def definition_xml(uow: UnitOfWork, key: str, version: int | None) -> str:
    """The BPMN XML a process version was deployed from (the whole file).

    Raises:
        NotFound: No such process (version) is deployed.
    """
    if version is None:
        row = uow.definitions.latest(PROCESS, key)
    else:
        row = uow.definitions.find_version(PROCESS, key, version)
    if row is None:
        raise NotFound("process definition", key if version is None else f"{key}:{version}")
    return row.xml
