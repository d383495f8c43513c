"""The story `flowdesk demo` tells: simulated users take expenses through the shipped process.

Three users act by role through the public API only: alice (sales) submits expenses, bob
(leadership) approves large ones, carol (finance) pays. Four expenses show the paths through
`examples/expense_approval.bpmn`: approved and paid, small enough to skip approval, rejected,
and one whose approval waits past the 48-hour reminder. A `DemoClock` that the story moves
forward makes the reminder timer due without waiting two days.

Which way each gateway went is read back from `Engine.history`, not assumed: the elements the
same step reached after a gateway completed are where its outgoing flow led.

Until the four business processes under `bpmn/` land, this is the demo; each of them should
add its own story here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import flowdesk
from flowdesk._resources import shipped
from flowdesk.cli import format_table

DEMO_GROUPS: dict[str, tuple[str, ...]] = {
    "alice": ("sales",),
    "bob": ("leadership",),
    "carol": ("finance",),
}
"""The simulated users and their groups; pass it as the engine's `groups`."""

PROCESS_KEY = "expense_approval"

# What each gateway of the example decides on, to show next to the way it went.
_GATEWAY_VARIABLES = {"Gateway_amount": "amount", "Gateway_decision": "decision"}
_REMINDER_WAIT = timedelta(hours=49)


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


def run_demo(
    engine: flowdesk.Engine,
    echo: Callable[[str], None],
    *,
    clock: DemoClock | None = None,
) -> list[str]:
    """Deploy the example process and play four expense claims through it.

    Safe to run again on the same database: the deployment is idempotent and each run uses
    new business keys.

    Args:
        engine: An engine whose `groups` are `DEMO_GROUPS`, built with `clock` as its clock.
        echo: Prints one line of the story.
        clock: The engine's clock, moved forward as the story goes on. Without one the story
            has no times and the 48-hour reminder stays waiting instead of firing.

    Returns:
        The ids of the instances started, in story order.

    Raises:
        FlowdeskError: The engine refused a step (e.g. the engine's groups are not
            `DEMO_GROUPS`).
        FileNotFoundError: The shipped example process is missing from the installation.
    """
    path = shipped("examples") / "expense_approval.bpmn"
    definitions = engine.deploy(path)
    deployed = ", ".join(f"{d.key} v{d.version}" for d in definitions)
    echo(f"Deployed {path.name}: {deployed}")
    echo("Cast: " + ", ".join(f"{u} ({', '.join(g)})" for u, g in DEMO_GROUPS.items()))
    first = len(engine.instances(key=PROCESS_KEY)) + 1
    keys = [f"EXP-{number:04d}" for number in range(first, first + 4)]

    stories = [
        (keys[0], "a large expense, approved and paid", _approved),
        (keys[1], "a small expense goes straight to finance", _small),
        (keys[2], "a large expense, rejected", _rejected),
        (keys[3], "an approval that waits past the 48-hour reminder", _reminded),
    ]
    instance_ids = []
    for number, (business_key, title, play) in enumerate(stories, start=1):
        echo("")
        echo(f"Story {number}: {title} ({business_key})")
        story = _Story(engine, echo, clock, business_key)
        play(story)
        instance_ids.append(story.instance_id)

    echo("")
    echo("Summary:")
    echo(_summary(engine, instance_ids))
    return instance_ids


# -- the four stories -----------------------------------------------------------------------------


def _approved(story: _Story) -> None:
    story.start()
    story.submit(5000, "travel", "Flight to Shanghai for the customer visit")
    story.act("Task_approve", {"decision": "approve", "comment": "Within the travel budget"})
    story.pay()


def _small(story: _Story) -> None:
    story.start()
    story.submit(300, "meals", "Team lunch after the release")
    story.pay()


def _rejected(story: _Story) -> None:
    story.start()
    story.submit(8000, "equipment", "An espresso machine for the office")
    story.act("Task_approve", {"decision": "reject", "comment": "Not a business expense"})


def _reminded(story: _Story) -> None:
    story.start()
    story.submit(2400, "equipment", "Docking stations for the new hires")
    story.wait_for_reminder()
    story.act("Task_approve", {"decision": "approve", "comment": "Sorry for the delay"})
    story.pay()


# -- telling one story ----------------------------------------------------------------------


@dataclass
class _Story:
    """One instance's story: acts as the right user and narrates what the history shows."""

    engine: flowdesk.Engine
    echo: Callable[[str], None]
    clock: DemoClock | None
    business_key: str
    instance_id: str = ""
    _seen: int = 0

    def start(self) -> None:
        self._tick(minutes=10)
        instance = self.engine.start(PROCESS_KEY, business_key=self.business_key, user="alice")
        self.instance_id = instance.id
        self._say(f"alice starts {PROCESS_KEY} v{instance.version}, instance {instance.id}")
        self._narrate()

    def submit(self, amount: int, category: str, description: str) -> None:
        self.act(
            "Task_submit",
            {"amount": amount, "category": category, "description": description},
            f"claims {amount} CNY for {category}: {description!r}",
        )

    def pay(self) -> None:
        paid_on = self.clock().date().isoformat() if self.clock else None
        task = self._open_task("Task_pay")
        self.act("Task_pay", {"paid_on": paid_on or task.created_at.date().isoformat()})

    def act(self, element_id: str, data: Mapping[str, Any], doing: str | None = None) -> None:
        """Let the user whose role fits complete the open task `element_id` with `data`."""
        self._tick(minutes=25)
        task = self._open_task(element_id)
        user = _actor(task)
        role = ", ".join(DEMO_GROUPS.get(user, ()))
        if task.assignee is None:
            self.engine.claim(task.id, user=user)
            self._say(f"{user} ({role}) claims {task.name!r}")
        self.engine.complete(task.id, data, user=user)
        doing = doing or ", ".join(f"{k} = {v}" for k, v in data.items())
        self._say(f"{user} ({role}) completes {task.name!r}: {doing}")
        self._narrate()

    def wait_for_reminder(self) -> None:
        jobs = self.engine.jobs(instance_id=self.instance_id)
        for job in jobs:
            self._say(f"a {job.type} waits on {job.element_id!r}, due {_time(job.due_at)}")
        if self.clock is None:
            self._say("(no demo clock: the reminder stays waiting)")
            return
        self._say("bob is travelling and does not look at his tasks ...")
        self.clock.advance(_REMINDER_WAIT)
        fired = self.engine.run_due_jobs()
        self._say(f"{_REMINDER_WAIT.total_seconds() / 3600:.0f} hours later: {fired} job(s) fired")
        self._narrate()
        variables = self.engine.instance(self.instance_id).variables
        if variables.get("reminder_sent"):
            self._say("the reminder set reminder_sent = true; the approval task is still open")

    # -- helpers --------------------------------------------------------------------------------

    def _open_task(self, element_id: str) -> flowdesk.Task:
        for task in self.engine.tasks(instance_id=self.instance_id):
            if task.element_id == element_id:
                return task
        raise flowdesk.NotFound("open task", f"{element_id} of instance {self.instance_id}")

    def _narrate(self) -> None:
        """Tell what the history gained since the last call: routes, timers, the end."""
        events = self.engine.history(self.instance_id)
        new, self._seen = events[self._seen :], len(events)
        variables = self.engine.instance(self.instance_id).variables
        reached = [e for e in new if _is_arrival(e)]
        for event in new:
            if event.type == "activity_completed" and "Gateway" in _kind(event):
                self._say(_route(self.engine, event, reached, variables), indent=4)
        for event in new:
            line = self._describe(event)
            if line:
                self._say(line, indent=4)

    def _describe(self, event: flowdesk.HistoryEvent) -> str | None:
        if event.type == "task_created":
            task = self.engine.task(str(event.data.get("task_id")))
            who = task.assignee or _candidates(task)
            return f"new task {task.name!r} for {who}"
        if event.type == "timer_fired":
            return f"timer {event.element_id!r} fired"
        if event.type == "activity_completed" and _kind(event).endswith("Task"):
            return f"{_kind(event)} {_name(event)!r} ran"
        if event.type == "activity_completed" and _kind(event) == "EndEvent":
            return f"reached end event {_name(event)!r}"
        if event.type == "instance_completed":
            return "instance completed"
        if event.type == "incident":
            return f"INCIDENT: {event.data}"
        return None

    def _tick(self, *, minutes: int) -> None:
        if self.clock is not None:
            self.clock.advance(timedelta(minutes=minutes))

    def _say(self, text: str, *, indent: int = 2) -> None:
        stamp = f"[{_time(self.clock())}] " if self.clock and indent == 2 else ""
        self.echo(" " * indent + stamp + text)


def _actor(task: flowdesk.Task) -> str:
    """The demo user who may do the task: its assignee, else a candidate by user or group."""
    if task.assignee:
        return task.assignee
    for user, groups in DEMO_GROUPS.items():
        if user in task.candidate_users or set(groups) & set(task.candidate_groups):
            return user
    raise flowdesk.NotAuthorized(task.id, "any demo user")


def _route(
    engine: flowdesk.Engine,
    gateway: flowdesk.HistoryEvent,
    reached: Sequence[flowdesk.HistoryEvent],
    variables: Mapping[str, Any],
) -> str:
    targets = [_target_name(engine, event) for event in reached]
    way = " and ".join(repr(t) for t in targets) if targets else "nowhere yet"
    variable = _GATEWAY_VARIABLES.get(gateway.element_id or "")
    because = f" ({variable} = {variables[variable]})" if variable and variable in variables else ""
    return f"gateway {_name(gateway)!r} went to {way}{because}"


def _is_arrival(event: flowdesk.HistoryEvent) -> bool:
    """Whether the event marks an element a sequence flow led to (a wait or a finished step)."""
    if event.type == "task_created":
        return True
    return event.type == "activity_completed" and _kind(event) not in (
        "StartEvent",
        "BoundaryEvent",
        "ExclusiveGateway",
        "InclusiveGateway",
        "ParallelGateway",
        "EventBasedGateway",
    )


def _target_name(engine: flowdesk.Engine, event: flowdesk.HistoryEvent) -> str:
    if event.type == "task_created":
        return engine.task(str(event.data.get("task_id"))).name
    return _name(event)


def _kind(event: flowdesk.HistoryEvent) -> str:
    return str(event.data.get("kind", ""))


def _name(event: flowdesk.HistoryEvent) -> str:
    return str(event.data.get("name") or event.element_id or "?")


def _candidates(task: flowdesk.Task) -> str:
    parts = [f"group {g}" for g in task.candidate_groups]
    parts += [f"user {u}" for u in task.candidate_users]
    return ", ".join(parts) or "nobody"


def _time(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M")


def _summary(engine: flowdesk.Engine, instance_ids: Sequence[str]) -> str:
    rows = []
    for instance_id in instance_ids:
        instance = engine.instance(instance_id)
        ends = [
            e
            for e in engine.history(instance_id)
            if e.type == "activity_completed" and _kind(e) == "EndEvent"
        ]
        variables = instance.variables
        rows.append(
            [
                instance.business_key,
                variables.get("amount"),
                variables.get("decision", "(not needed)"),
                "yes" if variables.get("reminder_sent") else "no",
                _name(ends[-1]) if ends else None,
                instance.state,
                instance.id,
            ]
        )
    return format_table(
        ["BUSINESS KEY", "AMOUNT", "DECISION", "REMINDED", "OUTCOME", "STATE", "INSTANCE"], rows
    )
