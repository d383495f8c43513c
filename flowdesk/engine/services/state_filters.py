"""The `state` filter of `Engine.tasks` and `Engine.instances`: a known state, "all" or None.

An unknown state used to match nothing, so `tasks(state="all")` or a typo returned `[]` as
if there were no tasks. Now "all" (like None) means every state, and any other unknown text is
refused with `InvalidArgument`, which lists the valid ones.
"""

from __future__ import annotations

import enum

from flowdesk.errors import InvalidArgument

ALL = "all"
"""The state filter that matches every state, as None does."""


def state_filter(state: str | None, states: type[enum.StrEnum], what: str) -> str | None:
    """The state to filter by, or None for every state.

    Args:
        state: What the caller passed.
        states: The valid states (`TaskState`, `InstanceState`).
        what: "task" or "instance", for the message.

    Raises:
        InvalidArgument: `state` is none of `states`, "all" or None.
    """
    if state is None or state == ALL:
        return None
    valid = [member.value for member in states]
    if state not in valid:
        listed = ", ".join(repr(name) for name in [*valid, ALL])
        raise InvalidArgument(f"unknown {what} state {state!r}; use one of {listed} or None")
    return state
