"""Saving instances: the one a call acted on, and every other instance its save touches.

Saving one instance can make others move in the same unit of work: a call activity starts an
instance (saved before the caller goes on, so a called instance that ends at once completes its
call activity within the caller's save); a called instance that ends reports to its caller,
which is then saved; a thrown message or signal reaches other instances, each saved before the
next event is delivered. The order is depth-first: each of those saves runs to its end, with
the saves it causes in turn, before the save that caused it goes on, so every save sees the
rows the earlier ones wrote.

A save is a generator (`Execution.save_steps`, `execution.SaveSteps`) that yields each other
instance to save at that point and is sent its saved row back; so are the deliveries of
`correlation`. `run` drives them with an explicit stack, so a chain of instances (a call
activity calling itself hundreds deep) never meets Python's recursion limit. An exception
raised by one save is thrown into the save below it on the stack, as a recursive call would
have raised it there; the unit of work then rolls back as a whole. An instance saved, and
then reached again in the same call (a message answered by a message back), is opened and
saved again, as the rows say it now stands.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flowdesk.engine.instances import correlation
from flowdesk.engine.instances.execution import Execution, SaveSteps
from flowdesk.store import InstanceRow

_T = TypeVar("_T")


def save(execution: Execution) -> InstanceRow:
    """Save an instance, and every instance its save touches; returns its row as saved.

    Raises:
        ConcurrencyConflict: Another caller saved one of the instances since it was read.
        CorrelationError: A message it threw waits in several instances, or instances kept
            throwing messages and signals at each other (`correlation.MAX_DEPTH`).
    """
    return run(execution.save_steps(correlation.THROWN))


def run(steps: SaveSteps[_T]) -> _T:
    """Run a save or a delivery to its end, saving each instance it yields when it yields it;
    returns what it returns."""
    stack: list[SaveSteps[Any]] = [steps]
    saved: InstanceRow | None = None  # for the top of the stack; None: start it
    failure: BaseException | None = None
    while True:
        top = stack[-1]
        try:
            if failure is not None:
                thrown, failure = failure, None
                other = top.throw(thrown)
            elif saved is None:
                other = next(top)
            else:
                other = top.send(saved)
        except StopIteration as done:
            stack.pop()
            if not stack:
                result: _T = done.value
                return result
            saved = done.value
            continue
        except BaseException as err:
            stack.pop()
            if not stack:
                raise
            failure, saved = err, None
            continue
        stack.append(other.save_steps(correlation.THROWN))
        saved = None
