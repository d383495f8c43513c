"""Messages and signals between instances: correlate, broadcast, and deliver what models throw.

A message goes to exactly one receiver, so `correlate` refuses to guess: no waiting instance
and no process starting with the message, or several waiting instances, is a
`CorrelationError`. A signal is a broadcast: it reaches every instance waiting for it and starts
every process whose start event waits for it, and reaching none is no error.

Messages thrown by an instance (throw and end events, send tasks) that nothing inside it caught
are delivered like `correlate` with the thrower's business key: an instance with that business
key waiting for the message first, else the one instance waiting for it with any business key,
else a process that starts with it (its new instance gets the thrower's business key); when
nothing receives it, it is only recorded. Everything happens in the caller's unit of work.

Every function here that moves instances is a generator of `execution.SaveSteps`: it yields
each instance it delivered to or started, for `saving.run` to save before it goes on, so the
instances one call reaches are saved without recursion (see `saving`). `THROWN` is how an
`Execution` hands over what it threw without importing this module.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flowdesk._records import HistoryEventType
from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.instances.execution import EngineContext, Execution, SaveSteps
from flowdesk.engine.instances.variable_types import decode
from flowdesk.engine.spiff.waits import signal_start_events
from flowdesk.errors import ConcurrencyConflict, CorrelationError
from flowdesk.store import InstanceRow, SubscriptionKind, UnitOfWork

# A model that answers every message with another could deliver forever within one call.
MAX_DEPTH = 25
_depth = threading.local()


def correlate(
    ctx: EngineContext,
    uow: UnitOfWork,
    message_name: str,
    *,
    business_key: str | None,
    correlation_keys: Mapping[str, Any] | None,
    variables: Mapping[str, Any],
) -> SaveSteps[InstanceRow]:
    """Deliver a message to the one instance waiting for it, or start the one process with it.

    Returns the row of the instance that received it, as saved.

    Raises:
        CorrelationError: Several instances wait for it, or none does and no latest process
            version starts with it (or several do).
    """
    waiting = _waiting_instances(uow, message_name, business_key, correlation_keys)
    if len(waiting) > 1:
        raise CorrelationError(
            message_name,
            f"{len(waiting)} instances wait for it (give a business key or correlation keys)",
        )
    if waiting:
        return (yield _deliver(ctx, uow, waiting[0], message_name, variables))
    row = yield from _start_with_message(ctx, uow, message_name, business_key, variables)
    if row is None:
        raise CorrelationError(
            message_name, "no instance waits for it and no deployed process starts with it"
        )
    return row


def deliver_thrown_message(
    ctx: EngineContext,
    uow: UnitOfWork,
    message_name: str,
    variables: Mapping[str, Any],
    *,
    sender: InstanceRow,
) -> SaveSteps[str | None]:
    """Deliver a message an instance threw; returns the receiving instance's id, if any.

    Raises:
        CorrelationError: Several instances wait for it and none has the sender's business key.
    """
    with _nested(message_name):
        waiting: list[str] = []
        if sender.business_key is not None:
            waiting = _waiting_instances(uow, message_name, sender.business_key, None)
        if not waiting:
            waiting = _waiting_instances(uow, message_name, None, None)
        waiting = [i for i in waiting if i != sender.id]
        if len(waiting) > 1:
            raise CorrelationError(
                message_name,
                f"instance {sender.id!r} threw it and {len(waiting)} instances wait for it "
                "(give the receiver the thrower's business key)",
            )
        if waiting:
            received = yield _deliver(ctx, uow, waiting[0], message_name, variables)
            return received.id
        row = yield from _start_with_message(ctx, uow, message_name, sender.business_key, variables)
        return row.id if row is not None else None


def broadcast(
    ctx: EngineContext,
    uow: UnitOfWork,
    signal_name: str,
    variables: Mapping[str, Any],
    *,
    sender: InstanceRow | None = None,
) -> SaveSteps[int]:
    """Send a signal to every waiting instance and start every process that starts with it.

    The sender itself caught the signal already, inside its own workflow. Returns how many
    instances the signal reached, started ones included.
    """
    with _nested(signal_name):
        instance_ids = sorted(
            {
                s.instance_id
                for s in uow.subscriptions.list(
                    kind=SubscriptionKind.SIGNAL.value, name=signal_name
                )
                if s.instance_id is not None and (sender is None or s.instance_id != sender.id)
            }
        )
        reached = 0
        for instance_id in instance_ids:
            execution = Execution.open(ctx, uow, instance_id)
            if execution.run.deliver_signal(signal_name, variables):
                execution.history.record(
                    HistoryEventType.SIGNAL_RECEIVED, data={"signal": signal_name}
                )
                yield execution
                reached += 1
        for definition in uow.definitions.list(kind=PROCESS, latest_only=True):
            if not signal_start_events(ctx.specs.bundle(uow, definition), signal_name):
                continue
            execution = Execution.start(
                ctx, uow, definition, {}, business_key=None, user=None, caught=signal_name
            )
            execution.run.deliver_signal(signal_name, variables)
            execution.history.record(HistoryEventType.SIGNAL_RECEIVED, data={"signal": signal_name})
            yield execution
            reached += 1
        return reached


def _waiting_instances(
    uow: UnitOfWork,
    message_name: str,
    business_key: str | None,
    correlation_keys: Mapping[str, Any] | None,
) -> list[str]:
    waiting = uow.subscriptions.list(
        kind=SubscriptionKind.MESSAGE.value, name=message_name, business_key=business_key
    )
    ids = sorted({s.instance_id for s in waiting if s.instance_id is not None})
    if correlation_keys:
        ids = [i for i in ids if _matches(uow.instances.summary(i), correlation_keys)]
    return ids


def _deliver(
    ctx: EngineContext,
    uow: UnitOfWork,
    instance_id: str,
    message_name: str,
    variables: Mapping[str, Any],
) -> Execution:
    """The waiting instance, with the message delivered: the caller yields it to be saved."""
    execution = Execution.open(ctx, uow, instance_id)
    if not execution.run.deliver_message(message_name, variables):
        # Its subscription said it waits; the state loaded a moment later says it no longer
        # does: another caller moved it on in between. Running the call again re-reads both.
        raise ConcurrencyConflict(instance_id)
    execution.history.record(HistoryEventType.MESSAGE_CORRELATED, data={"message": message_name})
    return execution


def _start_with_message(
    ctx: EngineContext,
    uow: UnitOfWork,
    message_name: str,
    business_key: str | None,
    variables: Mapping[str, Any],
) -> SaveSteps[InstanceRow | None]:
    starts = uow.subscriptions.list(
        kind=SubscriptionKind.MESSAGE.value, name=message_name, start_events_only=True
    )
    if not starts:
        return None
    if len(starts) > 1:
        raise CorrelationError(message_name, "several process definitions start with it")
    assert starts[0].definition_id is not None
    definition = uow.definitions.get(starts[0].definition_id)
    execution = Execution.start(
        ctx, uow, definition, {}, business_key=business_key, user=None, caught=message_name
    )
    if not execution.run.deliver_message(message_name, variables):
        raise CorrelationError(message_name, f"a new {definition.key} instance did not catch it")
    execution.history.record(HistoryEventType.MESSAGE_CORRELATED, data={"message": message_name})
    return (yield execution)


class _Thrown:
    """`execution.ThrownDelivery`: messages and signals a saved instance threw."""

    def message(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        message_name: str,
        variables: Mapping[str, Any],
        *,
        sender: InstanceRow,
    ) -> SaveSteps[str | None]:
        return deliver_thrown_message(ctx, uow, message_name, variables, sender=sender)

    def signal(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        signal_name: str,
        variables: Mapping[str, Any],
        *,
        sender: InstanceRow,
    ) -> SaveSteps[int]:
        return broadcast(ctx, uow, signal_name, variables, sender=sender)


THROWN = _Thrown()


def _matches(row: InstanceRow, keys: Mapping[str, Any]) -> bool:
    stored = decode(row.variables)
    return all(stored.get(name) == value for name, value in keys.items())


@contextmanager
def _nested(name: str) -> Iterator[None]:
    depth = getattr(_depth, "value", 0)
    if depth >= MAX_DEPTH:
        raise CorrelationError(
            name,
            f"instances kept throwing messages and signals at each other ({MAX_DEPTH} deep "
            "in one call); the models loop",
        )
    _depth.value = depth + 1
    try:
        yield
    finally:
        _depth.value = depth
