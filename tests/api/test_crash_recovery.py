"""SIGKILL in the middle of a run of completions: every engine call is one transaction, so a
new `Engine` on the same database finds each step either fully there or fully absent, and
carries on with nothing lost and nothing done twice.

A driver process (`crash_driver.py loop`) completes the open task of a counting loop again and
again, acknowledging each completion in a file once the call has returned. The test kills it
at each point of a step where a crash could tear it (before anything is written, with the
task row and history written, halfway through the save, after the last UPDATE, after the
COMMIT), then at seeded random moments from outside, and after each kill checks with a fresh
engine that history, task rows, variables and the open task agree.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import DATA

import flowdesk

DRIVER = Path(__file__).with_name("crash_driver.py")
SEED = 20260302
# The points at which the driver kills itself, in the order of a step (see crash_driver.py).
POINTS = ("validate", "on_complete", "on_create", "instance_update", "after_commit")
RANDOM_KILLS = 2


def acknowledged(ack: Path) -> list[tuple[str, int]]:
    """The completions the driver saw return, as (task id, item)."""
    if not ack.exists():
        return []
    lines = ack.read_text(encoding="utf-8").splitlines()
    return [(task_id, int(item)) for task_id, item in (line.split() for line in lines)]


def assert_consistent(engine: flowdesk.Engine, instance_id: str) -> int:
    """History, task rows, variables and the open task tell the same story; returns how many
    items were completed."""
    history = engine.history(instance_id)
    created = [e.data["task_id"] for e in history if e.type == "task_created"]
    completed = [e.data["task_id"] for e in history if e.type == "task_completed"]
    assert len(set(created)) == len(created), "a task was created twice"
    assert len(set(completed)) == len(completed), "a task was completed twice"
    assert not [e for e in history if e.type in ("task_cancelled", "incident")]

    rows = {t.id: t for t in engine.tasks(instance_id=instance_id, state=None)}
    assert set(rows) == set(created), "task rows and task_created events differ"
    assert {i for i, t in rows.items() if t.state == "completed"} == set(completed)
    (open_task,) = engine.tasks(instance_id=instance_id)
    assert open_task.id == created[-1] and open_task.id not in completed

    instance = engine.instance(instance_id)
    count = instance.variables["count"]
    assert instance.state == "running" and instance.incident is None
    assert len(completed) == count
    assert instance.variables["items"] == list(range(count)), "an item was lost or doubled"
    items = [e.data["variables"]["item"] for e in history if e.type == "task_completed"]
    assert items == list(range(count))
    counted = Counter((e.type, e.element_id) for e in history)
    assert counted["activity_completed", "Script_count"] == count
    assert counted["activity_completed", "Gateway_more"] == count
    # The open task is the one the workflow waits for: the next item's.
    assert open_task.element_id == "Task_step"
    assert open_task.name == f"Handle item {count + 1}"
    return count


def start_driver(db_url: str, now: str, instance_id: str, ack: Path, *extra: str) -> Any:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), "loop", db_url, now, instance_id, str(ack), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_during_a_run_of_completions__a_new_engine_continues_with_nothing_lost_or_doubled(
    make_engine: Callable[..., flowdesk.Engine], db_url: str, clock: Any, tmp_path: Path
) -> None:
    setup = make_engine()
    setup.deploy(DATA / "counting_loop.bpmn")
    instance = setup.start("counting_loop", {"count": 0, "rounds": 10_000, "items": []})
    now = clock.now.isoformat()
    ack = tmp_path / "acknowledged"
    rng = random.Random(SEED)
    done = 0

    for point in POINTS:
        die_at = done + rng.randint(1, 4)
        driver = start_driver(
            db_url, now, instance.id, ack, "--die-at", str(die_at), "--die-in", point
        )
        _, err = driver.communicate(timeout=60)
        assert driver.returncode == -signal.SIGKILL, err

        count = assert_consistent(make_engine(), instance.id)
        # Every item before the fatal one was completed and acknowledged; the fatal one is
        # there only if the process died after its COMMIT.
        assert [item for _, item in acknowledged(ack)][done:] == list(range(done, die_at))
        assert count == (die_at + 1 if point == "after_commit" else die_at), point
        done = count

    for _ in range(RANDOM_KILLS):
        before = len(acknowledged(ack))
        driver = start_driver(db_url, now, instance.id, ack)
        deadline = time.monotonic() + 60
        while len(acknowledged(ack)) == before and driver.poll() is None:
            assert time.monotonic() < deadline, "the driver made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.08))  # a few steps in, at no step's boundary in particular
        driver.send_signal(signal.SIGKILL)
        _, err = driver.communicate(timeout=60)
        assert driver.returncode == -signal.SIGKILL, err

        count = assert_consistent(make_engine(), instance.id)
        items = [item for _, item in acknowledged(ack)][before:]
        assert items == list(range(done, done + len(items)))
        # The step in flight at the kill is either fully there or fully absent.
        assert count in (done + len(items), done + len(items) + 1)
        done = count

    fresh = make_engine()
    (task,) = fresh.tasks(instance_id=instance.id)
    fresh.complete(task.id, {"item": done})
    assert assert_consistent(fresh, instance.id) == done + 1
