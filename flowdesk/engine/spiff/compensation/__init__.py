"""BPMN compensation as Camunda 7 runs it, built on SpiffWorkflow 3.2, which has none.

Camunda 7 undoes completed work like this: an activity with a compensation boundary event
names its compensation handler (an `isForCompensation="true"` activity, linked by an
association). Each time such an activity *completes*, it leaves a record (Camunda's compensate
event subscription) in its scope, the process or sub-process it runs in. A compensation throw
(an intermediate throw or end event with a `compensateEventDefinition`) takes the records of
its scope (with `activityRef`, only that activity's), runs their handlers, newest completion
first, and goes on only when every handler has finished (Camunda 7 always waits, whatever
`waitForCompletion` says). A record is used once. A multi-instance activity leaves one record
per completed instance. A cancel end event in a transaction compensates the transaction's scope
the same way before the cancel boundary event takes over.

How it is built here:

- Parsing (`CompensationProcessParser`): compensation boundary events are not given to Spiff
  (3.2 raises NotImplementedError for them); the handler is parsed as a spec without flows,
  and the compensated activity's spec becomes a `_Compensable` one, whose completion leaves
  the record. The handler spec becomes a `_Handler`, whose completion wakes the throw. Both are
  the parsed spec's own class with a mixin (same class name, so the history reads the same).
- Records live in the internal data of the scope workflow's root task (`_RECORDS`), with a
  counter on the top workflow's root for their order: the serializer keeps them, pruning never
  drops a root, and a running sub-process keeps its own in its sub-workflow.
- A throw (`CompensationThrowEvent`, `CompensationEndEvent`, `CancelEndEvent`) takes its
  scope's records and starts their handlers newest first, one after another (`_drive`: the
  next starts when those before have finished or wait for something), each as a triggered
  child of its scope's root (as Spiff starts an event sub-process); it stays WAITING until every
  handler has finished, and each handler wakes it when it completes. Inside a handler that is
  a sub-process, its inner tasks decide whether it waits; one that comes to wait later wakes
  nobody, so the engine calls `resume` after its steps to start the next handlers.
- A completed sub-process hands its records to the scope around it as one record
  (`_CompensableScope`), as Camunda keeps them in an "event scope". Spiff has dropped the
  sub-process's state by then, so a `CompensationScope` spec (one per such sub-process, added
  to the parent's spec at parse time) opens a fresh, empty sub-workflow of the sub-process's
  spec in which the inner handlers run.
- A compensation event sub-process (an event sub-process with a compensation start event) is
  its sub-process's handler: parsing detaches it from the sub-process's start and end (Spiff
  reads the start event as a none start event and would run it with the sub-process), and
  the sub-process then always leaves a record on completion, with a copy of its local
  variables (input parameters). Its `CompensationScope` runs the event sub-process in the
  fresh sub-workflow, with the copied variables and the inner records in that sub-workflow's
  root, instead of the inner handlers: the throws inside it take those records, as a throw in
  any event sub-process takes its scope's.

Refused at deploy, as in Camunda 7: a compensation start event outside an event sub-process of
an embedded sub-process, two compensation event sub-processes in one scope, one beside a
compensation boundary event of the same sub-process.
"""

from __future__ import annotations

from flowdesk.engine.spiff.compensation._parsing import (
    CompensationProcessParser,
    check_activity_ref,
    configure_throw,
    event_spec_class,
)
from flowdesk.engine.spiff.compensation._running import (
    CancelEndEvent,
    CompensationEndEvent,
    CompensationScope,
    CompensationThrowEvent,
    resume,
    started_by_throw,
    thrown_inside,
)

__all__ = [
    "CancelEndEvent",
    "CompensationEndEvent",
    "CompensationProcessParser",
    "CompensationScope",
    "CompensationThrowEvent",
    "check_activity_ref",
    "configure_throw",
    "event_spec_class",
    "resume",
    "started_by_throw",
    "thrown_inside",
]
