"""How `flowdesk demo` acts and narrates: simulated staff work through the public API only.

A `Director` plays one story. It starts an instance, lets the staff member whose role fits
claim and complete each open task, moves a `DemoClock` to make timers due, and after every
step tells what the history of the story's instances gained: tasks offered to whom, which way
each gateway went, decisions, documents, messages, timers and ends. A story's instances are
the one it started, the instances those called or started by message (same business key), and
so on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import flowdesk
from flowdesk.processes.roles import STAFF

_GATEWAYS = ("ExclusiveGateway", "InclusiveGateway", "EventBasedGateway")


class DemoClock:
    """A clock that stands still until the demo moves it forward.

    Args:
        start: The first time it tells (timezone-aware).
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("DemoClock needs a timezone-aware start")
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta`; returns the new time."""
        self._now += delta
        return self._now


class Director:
    """Plays one story: acts as the right staff member and narrates what the history shows."""

    def __init__(
        self,
        engine: flowdesk.Engine,
        echo: Callable[[str], None],
        clock: DemoClock | None,
        business_key: str,
    ) -> None:
        self.engine = engine
        self.echo = echo
        self.clock = clock
        self.business_key = business_key
        self.instance_id = ""
        self._seen: dict[str, int] = {}
        self._visits: dict[str, int] = {}

    # -- acting ---------------------------------------------------------------------------------

    def start(self, starter: Callable[..., flowdesk.ProcessInstance], **variables: Any) -> None:
        """Start the story's instance with a process module's `start` helper."""
        self._tick(minutes=10)
        instance = starter(self.engine, business_key=self.business_key, **variables)
        self.instance_id = instance.id
        who = variables.get("user")
        by = f"{who} ({_roles(who)}) starts" if who else "starting"
        self.say(f"{by} {instance.key} v{instance.version}, instance {instance.id[:8]}")
        self.narrate()

    def act(
        self,
        element_id: str,
        data: Mapping[str, Any],
        *,
        user: str | None = None,
        task: flowdesk.Task | None = None,
    ) -> None:
        """Let the staff member whose role fits (or `user`) complete open task `element_id`."""
        self._tick(minutes=40)
        task = task or self.open_task(element_id)
        user = user or actor(task)
        if task.assignee is None:
            self.engine.claim(task.id, user=user)
        self.engine.complete(task.id, data, user=user)
        shown = ", ".join(f"{k} = {_short(v)}" for k, v in data.items()) or "done"
        self.say(f"{user} ({_roles(user)}) completes {task.name!r}: {shown}")
        self.narrate()

    def work(
        self,
        answers: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        until: Callable[[], bool] | None = None,
        limit: int = 300,
    ) -> None:
        """Complete the story's open tasks, oldest first, until none is open or `until()`.

        Each form is filled with plausible values (`sample_data`), overlaid with the next of
        `answers[element_id]` (the last one repeats), which steer the story's decisions. The
        count of each task's visits goes on across calls, so a story may stop (`until`), let
        something happen, and go on with the same answers.

        Raises:
            RuntimeError: More than `limit` tasks: the answers keep the story in a loop.
        """
        visits = self._visits
        for _ in range(limit):
            if until is not None and until():
                return
            tasks = [t for i in self.family() for t in self.engine.tasks(instance_id=i)]
            if not tasks:
                return
            task = min(tasks, key=lambda t: (t.created_at, t.id))
            given = answers.get(task.element_id, ())
            visit = visits.get(task.element_id, 0)
            visits[task.element_id] = visit + 1
            data = {
                **sample_data(task, self._today()),
                **(given[min(visit, len(given) - 1)] if given else {}),
            }
            self.act(task.element_id, data, task=task)
        raise RuntimeError(f"story {self.business_key} did not end within {limit} tasks")

    def wait(self, delta: timedelta, why: str) -> None:
        """Let time pass (nobody acts), then run the jobs that fell due."""
        if self.clock is None:
            self.say(f"(no demo clock: {why} does not happen)")
            return
        self.clock.advance(delta)
        fired = self.engine.run_due_jobs()
        self.say(f"{_duration(delta)} later ({why}): {fired} job(s) ran")
        self.narrate()

    def correlate(self, message: str, variables: Mapping[str, Any], why: str) -> None:
        """A message from outside (the customer) reaches the story's instance."""
        self._tick(minutes=30)
        self.engine.correlate(message, business_key=self.business_key, variables=variables)
        self.say(f"message {message!r} arrives: {why}")
        self.narrate()

    def open_task(self, element_id: str) -> flowdesk.Task:
        """The open task `element_id` in any of the story's instances."""
        for instance_id in self.family():
            for task in self.engine.tasks(instance_id=instance_id):
                if task.element_id == element_id:
                    return task
        raise flowdesk.NotFound("open task", f"{element_id} in story {self.business_key}")

    def family(self) -> list[str]:
        """The story's instances: the started one, its business key's, and their callees."""
        ids = [self.instance_id] if self.instance_id else []
        ids += [i.id for i in self.engine.instances(business_key=self.business_key)]
        found: list[str] = []
        while ids:
            instance_id = ids.pop(0)
            if instance_id in found:
                continue
            found.append(instance_id)
            ids += [i.id for i in self.engine.instances(parent_id=instance_id)]
        return found

    # -- telling --------------------------------------------------------------------------------

    def say(self, text: str, *, indent: int = 2) -> None:
        stamp = (
            f"[{self.clock().strftime('%a %d %b %H:%M')}] " if self.clock and indent == 2 else ""
        )
        self.echo(" " * indent + stamp + text)

    def narrate(self) -> None:
        """Tell what each of the story's instances gained in history since the last call."""
        for instance_id in self.family():
            events = self.engine.history(instance_id)
            new = events[self._seen.get(instance_id, 0) :]
            self._seen[instance_id] = len(events)
            if not new:
                continue
            instance = self.engine.instance(instance_id)
            prefix = "" if instance_id == self.instance_id else f"[{instance.key}] "
            names = self._names(events)
            for event in new:
                line = self._describe(event, instance, names)
                if line:
                    self.say(prefix + line, indent=4)

    def _names(self, events: list[flowdesk.HistoryEvent]) -> dict[str, str]:
        """Element names the history shows, to say where a gateway went."""
        names = {}
        for event in events:
            if event.type == "activity_completed" and event.element_id:
                names[event.element_id] = str(event.data.get("name") or event.element_id)
            elif event.type == "task_created" and event.element_id:
                names[event.element_id] = self.engine.task(str(event.data["task_id"])).name
        return names

    def _describe(
        self,
        event: flowdesk.HistoryEvent,
        instance: flowdesk.ProcessInstance,
        names: Mapping[str, str],
    ) -> str | None:
        kind = str(event.data.get("kind", ""))
        name = str(event.data.get("name") or event.element_id or "?")
        if event.type == "instance_started" and instance.id != self.instance_id:
            return f"instance {instance.id[:8]} of {instance.key} started"
        if event.type == "task_created":
            task = self.engine.task(str(event.data.get("task_id")))
            return f"new task {task.name!r} for {task.assignee or _candidates(task)}"
        if event.type == "activity_completed" and kind in _GATEWAYS:
            taken = [names.get(str(e), str(e)) for e in event.data.get("next", [])]
            return f"gateway {name!r} went to {' and '.join(map(repr, taken))}" if taken else None
        if event.type == "activity_completed" and "result" in event.data:
            outcome = ", ".join(f"{k} = {_short(v)}" for k, v in event.data["result"].items())
            return f"decision {event.data.get('decision')!r} ({name}): {outcome}"
        if event.type == "activity_completed" and kind == "EndEvent":
            return f"reached end event {name!r}"
        if event.type == "document_created":
            return f"document {event.data.get('name')!r} rendered"
        if event.type == "timer_fired":
            return f"timer {name!r} fired"
        if event.type in ("message_thrown", "message_correlated", "signal_thrown"):
            message = event.data.get("name") or event.data.get("message")
            return f"{event.type.replace('_', ' ')}: {message}"
        if event.type == "instance_completed":
            return "instance completed"
        if event.type == "incident":
            return f"INCIDENT: {event.data}"
        return None

    def _today(self) -> date:
        return (self.clock() if self.clock is not None else datetime.now(UTC)).date()

    def _tick(self, *, minutes: int) -> None:
        if self.clock is not None:
            self.clock.advance(timedelta(minutes=minutes))


def sample_data(task: flowdesk.Task, today: date) -> dict[str, Any]:
    """Plausible values for the task's required fields: defaults, the first choice, yes."""
    data: dict[str, Any] = {}
    for form_field in task.form_fields:
        if form_field.readonly or not form_field.required:
            continue
        if form_field.default not in (None, ""):
            data[form_field.id] = form_field.default
        elif form_field.enum_values:
            data[form_field.id] = form_field.enum_values[0]
        else:
            value = {
                "boolean": True,
                "long": 1,
                "date": (today + timedelta(days=7)).isoformat(),
            }.get(form_field.type, form_field.label)
            limits = dict(form_field.constraints)
            if isinstance(value, str) and limits.get("maxlength"):
                value = value[: int(str(limits["maxlength"]))]
            if isinstance(value, int) and limits.get("min"):
                value = max(value, int(str(limits["min"])))
            data[form_field.id] = value
    return data


def actor(task: flowdesk.Task) -> str:
    """The staff member who may do the task: its assignee, else a candidate by user or group."""
    if task.assignee:
        return task.assignee
    for user in task.candidate_users:
        return user
    for user, groups in STAFF.items():
        if set(groups) & set(task.candidate_groups):
            return user
    raise flowdesk.NotAuthorized(task.id, "any demo user")


def _roles(user: str | None) -> str:
    return ", ".join(STAFF.get(user or "", ())) or "no role"


def _candidates(task: flowdesk.Task) -> str:
    parts = [f"group {g}" for g in task.candidate_groups]
    parts += [f"user {u}" for u in task.candidate_users]
    return ", ".join(parts) or "nobody"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _duration(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{delta.total_seconds() / 3600:g} hours"
