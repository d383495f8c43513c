"""Process analysis: counts, cycle times, time per step and gateway outcomes from history.

Everything here is computed from the history events alone (the audit log), so a report reads
the same whatever the engine's clock says now. Element names come from the deployed XML, as
history records the names of user tasks nowhere.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flowdesk._records import GatewayStatistics, ProcessReport, StepStatistics
from flowdesk.store import HistoryRow

EVENT_TYPES = frozenset(
    {
        "instance_started",
        "instance_completed",
        "instance_terminated",
        "incident",
        "task_created",
        "task_completed",
        "activity_completed",
    }
)
"""The history events a report reads; the others do not change it."""

_MICROSECOND = timedelta(microseconds=1)


@dataclass
class _Gateway:
    name: str
    passed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class _Tally:
    """What the events of a report add up to, before the statistics."""

    started: dict[str, datetime] = field(default_factory=dict)
    completed: dict[str, datetime] = field(default_factory=dict)
    terminated: set[str] = field(default_factory=set)
    incidents: set[str] = field(default_factory=set)
    # (instance id, task id) -> when the open task was created
    open_tasks: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # element id -> the durations of its completed tasks; dicts keep first-seen order
    durations: dict[str, list[timedelta]] = field(default_factory=dict)
    gateways: dict[str, _Gateway] = field(default_factory=dict)

    def add(self, event: HistoryRow) -> None:
        instance = event.instance_id
        if event.type == "instance_started":
            self.started.setdefault(instance, event.at)
        elif event.type == "instance_completed":
            self.completed[instance] = event.at
        elif event.type == "instance_terminated":
            self.terminated.add(instance)
        elif event.type == "incident":
            self.incidents.add(instance)
        elif event.type == "task_created":
            self.open_tasks[(instance, str(event.data.get("task_id")))] = event.at
        elif event.type == "task_completed" and event.element_id:
            created = self.open_tasks.pop((instance, str(event.data.get("task_id"))), None)
            if created is not None:
                self.durations.setdefault(event.element_id, []).append(event.at - created)
        elif event.type == "activity_completed" and event.element_id and event.data.get("next"):
            name = str(event.data.get("name") or event.element_id)
            gateway = self.gateways.setdefault(event.element_id, _Gateway(name))
            gateway.passed += 1
            gateway.outcomes.update(str(target) for target in event.data["next"])


def analyse(
    key: str,
    events: Iterable[HistoryRow],
    names: Mapping[str, str],
    *,
    splits: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ProcessReport:
    """The report of one process key from its instances' history events, oldest first.

    Args:
        key: The process key, for the report.
        events: The history of the instances to report on, in the order it was written.
        names: Element id -> element name, for the steps and gateway outcomes.
        splits: The gateways that can choose (more than one way out); a joining gateway
            records where its token went too, but that says nothing about the process. None
            reports every gateway.
        since: The window the instances were chosen by, for the report.
        until: The same.
    """
    tally = _Tally()
    for event in events:
        tally.add(event)
    cycle_times = [
        at - tally.started[instance]
        for instance, at in tally.completed.items()
        if instance in tally.started
    ]
    cycle_median, cycle_p90 = _median_and_p90(cycle_times) if cycle_times else (None, None)
    steps = tuple(
        _step(element_id, names.get(element_id, element_id), durations)
        for element_id, durations in tally.durations.items()
    )
    ended = tally.completed.keys() | tally.terminated
    return ProcessReport(
        key=key,
        since=since,
        until=until,
        started=len(tally.started),
        completed=len(tally.completed.keys() & tally.started.keys()),
        terminated=len(tally.terminated & tally.started.keys()),
        running=len(tally.started.keys() - ended),
        incidents=len(tally.incidents & tally.started.keys()),
        cycle_time_median=cycle_median,
        cycle_time_p90=cycle_p90,
        steps=steps,
        bottleneck=max(steps, key=lambda s: (s.median, s.total), default=None),
        gateways=tuple(
            _gateway(element_id, gateway, names)
            for element_id, gateway in tally.gateways.items()
            if splits is None or element_id in splits
        ),
    )


def _step(element_id: str, name: str, durations: list[timedelta]) -> StepStatistics:
    median, p90 = _median_and_p90(durations)
    return StepStatistics(
        element_id=element_id,
        name=name,
        count=len(durations),
        median=median,
        p90=p90,
        total=sum(durations, timedelta()),
    )


def _gateway(element_id: str, gateway: _Gateway, names: Mapping[str, str]) -> GatewayStatistics:
    # Equal counts go by element id, so the order does not depend on which came first.
    ranked = sorted(gateway.outcomes.items(), key=lambda item: (-item[1], item[0]))
    return GatewayStatistics(
        element_id=element_id,
        name=gateway.name,
        passed=gateway.passed,
        outcomes=dict(ranked),
        outcome_names={target: names.get(target, target) for target, _ in ranked},
    )


def _median_and_p90(values: list[timedelta]) -> tuple[timedelta, timedelta]:
    """The median and the 90th percentile, by `statistics.quantiles(method="inclusive")`.

    The inclusive method interpolates between the observed values, treating them as the whole
    population, so one slow case among ten moves p90 only part of the way towards it.
    """
    micros = sorted(value // _MICROSECOND for value in values)
    if len(micros) == 1:
        return values[0], values[0]
    median = statistics.median(micros)
    p90 = statistics.quantiles(micros, n=10, method="inclusive")[-1]
    return timedelta(microseconds=round(median)), timedelta(microseconds=round(p90))
