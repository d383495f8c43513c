"""Worker processes sharing one database: a killed worker's job is taken over after its lease,
and several workers on PostgreSQL fire many due timers with none fired twice or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import flowdesk

DATA = Path(__file__).parents[1] / "api" / "data"
STALLING_WORKER = Path(__file__).parent / "stalling_worker.py"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists():
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the worker never reached its service task: {process.communicate()}")


@pytest.mark.parametrize(
    ("resource", "key", "wait", "element_id"),
    [
        ("async_payment.bpmn", "async_payment", timedelta(0), "Service_charge"),
        ("timer_reminder_service.bpmn", "timer_reminder", timedelta(days=1), "Service_remind"),
    ],
    ids=["async-continuation", "timer"],
)
def test_worker_killed_mid_job__another_takes_the_job_over_after_the_lease_and_runs_it_once(
    db_url: str, tmp_path: Path, resource: str, key: str, wait: timedelta, element_id: str
) -> None:
    clock = Clock(START)
    calls: list[str] = []
    with flowdesk.Engine(db_url, clock=clock, load_entry_points=False) as engine:
        engine.handlers.register_service(
            "paymentGateway", lambda call: calls.append(call.element_id)
        )
        engine.handlers.register_service("Reminder", lambda call: calls.append(call.element_id))
        engine.deploy(DATA / resource)
        instance = engine.start(key, {"order": "C-1"})
        clock.now += wait

        barrier = tmp_path / "in-job"
        worker = subprocess.Popen(
            [
                sys.executable,
                str(STALLING_WORKER),
                db_url,
                clock.now.isoformat(),
                str(barrier),
                str(LEASE.total_seconds()),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(barrier, worker)
        assert barrier.read_text() == element_id  # the worker holds the job, mid-step
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=30)

        (job,) = engine.jobs(instance_id=instance.id)
        assert (job.state, job.attempts) == ("waiting", 0)  # the dead worker committed nothing
        clock.now += LEASE - timedelta(seconds=1)
        assert engine.run_due_jobs() == 0  # still leased to the dead worker
        clock.now += timedelta(seconds=2)
        assert engine.run_due_jobs() == 1
        assert engine.run_due_jobs() == 0

        assert calls == [element_id]
        history = Counter((event.type, event.element_id) for event in engine.history(instance.id))
        assert history["activity_completed", element_id] == 1
        assert history["timer_fired", "Timer_day"] == (1 if key == "timer_reminder" else 0)
        assert engine.jobs(instance_id=instance.id) == []


HOUR_WAIT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_hour_wait"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="hour_wait" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:intermediateCatchEvent id="Timer_hour">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Timer_hour" />
    <bpmn:sequenceFlow id="F2" sourceRef="Timer_hour" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"""
TIMERS = 500
WORKERS = 3
WORKER_ARGS = ("--interval", "0.2", "--log-level", "WARNING")


@pytest.mark.postgresql
def test_workers_on_postgresql__fire_500_due_timers_with_none_fired_twice_or_lost(
    db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "hour_wait.bpmn").write_text(HOUR_WAIT)
    # Started on a clock in 2020: on the workers' real clocks every timer is long due.
    long_ago = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
    with flowdesk.Engine(db_url, clock=lambda: long_ago, load_entry_points=False) as engine:
        engine.deploy(tmp_path)
        ids = [engine.start("hour_wait").id for _ in range(TIMERS)]

        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flowdesk",
                    "--db",
                    db_url,
                    "--json",
                    "worker",
                    *WORKER_ARGS,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not engine.jobs():  # cheap to poll: it shrinks as the timers fire
                break
            time.sleep(0.2)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60) for worker in workers]

        assert [w.returncode for w in workers] == [0] * WORKERS, [err for _, err in outputs]
        fired_by_worker = [json_fired(out) for out, _ in outputs]
        assert sum(fired_by_worker) == TIMERS
        for instance_id in ids:
            types = Counter(event.type for event in engine.history(instance_id))
            assert types["timer_fired"] == 1, instance_id
            assert types["instance_completed"] == 1, instance_id
        assert engine.jobs() == []


def json_fired(stdout: str) -> int:
    return int(json.loads(stdout)["fired"])
