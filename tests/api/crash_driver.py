"""A separate OS process for the crash and race tests: it drives instances through
completions over the public API, and can be made to die by SIGKILL at a chosen point.

    python crash_driver.py loop DB_URL NOW INSTANCE_ID ACK_FILE [--die-at ITEM --die-in POINT]
    python crash_driver.py branch DB_URL NOW ELEMENT_ID VARIABLE GO_FILE INSTANCE_ID...

`loop` completes the one open task of a `counting_loop` instance again and again with
`item = count` and appends `<task id> <item>` to ACK_FILE after each call has returned (that
is, committed). With `--die-at`, the process kills itself with SIGKILL while completing that
item, at POINT:

- `validate`: the task row is read and locked, nothing is written yet;
- `on_complete`: the task row and history are written and the workflow has run, not saved;
- `on_create`: the next task is being created, halfway through the save;
- `instance_update`: the instance row is updated, the transaction not yet committed;
- `after_commit`: the step is committed but not yet acknowledged.

`branch` waits until GO_FILE exists (so that two drivers start together), then completes the
task ELEMENT_ID of each instance in turn with `{VARIABLE: True}`, and prints how many calls
the engine ran again after a `ConcurrencyConflict`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine

import flowdesk

POINTS = ("validate", "on_complete", "on_create", "instance_update", "after_commit")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class DieOnItem(flowdesk.UserTaskHandler):
    """Kills the process in one of its hooks while the given item is being completed."""

    def __init__(self, item: int, point: str) -> None:
        self.item = item
        self.point = point
        self.dying = False

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        self.dying = data.get("item") == self.item
        if self.dying and self.point == "validate":
            die()

    def on_complete(self, task: flowdesk.Task, data: Mapping[str, Any], user: str | None) -> None:
        if self.dying and self.point == "on_complete":
            die()

    def on_create(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
        if self.dying and self.point == "on_create":
            die()
        return None


def arm_database_points(handler: DieOnItem) -> None:
    """The point no handler hook reaches: after the instance UPDATE."""

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            handler.dying
            and handler.point == "instance_update"
            and statement.lstrip().upper().startswith("UPDATE INSTANCES")
        ):
            die()

    event.listen(SqlEngine, "after_cursor_execute", after_execute)


def run_loop(args: argparse.Namespace) -> None:
    handler = DieOnItem(args.die_at, args.die_in) if args.die_at is not None else None
    engine = make_engine(args)
    if handler is not None:
        engine.handlers.register_user_task(handler, element_id="Task_step")
        arm_database_points(handler)
    with open(args.ack_file, "a", encoding="utf-8") as ack:
        while True:
            tasks = engine.tasks(instance_id=args.instance_id)
            if not tasks:
                return
            (task,) = tasks
            item = engine.instance(args.instance_id).variables["count"]
            engine.complete(task.id, {"item": item})
            # The call returned, so its step is committed: "after_commit" dies before the
            # acknowledgement, as a client would that crashed on receiving the answer.
            if handler is not None and handler.dying and handler.point == "after_commit":
                die()
            # Written (to the kernel) only once the call returned: its step is committed.
            ack.write(f"{task.id} {item}\n")
            ack.flush()


class CountRetries(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "running the call again" in record.getMessage():
            self.count += 1


def run_branch(args: argparse.Namespace) -> None:
    retries = CountRetries()
    logger = logging.getLogger("flowdesk.engine")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(retries)
    engine = make_engine(args)
    go = Path(args.go_file)
    Path(f"{args.go_file}.{args.element_id}.ready").touch()
    deadline = time.monotonic() + 30
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("no go")
        time.sleep(0.002)
    for instance_id in args.instance_ids:
        (task,) = [
            t for t in engine.tasks(instance_id=instance_id) if t.element_id == args.element_id
        ]
        engine.complete(task.id, {args.variable: True})
    print(retries.count)


def make_engine(args: argparse.Namespace) -> flowdesk.Engine:
    now = datetime.fromisoformat(args.now)
    return flowdesk.Engine(args.db_url, clock=lambda: now, load_entry_points=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    loop = commands.add_parser("loop")
    loop.add_argument("db_url")
    loop.add_argument("now")
    loop.add_argument("instance_id")
    loop.add_argument("ack_file")
    loop.add_argument("--die-at", type=int)
    loop.add_argument("--die-in", choices=POINTS, default="on_complete")
    branch = commands.add_parser("branch")
    branch.add_argument("db_url")
    branch.add_argument("now")
    branch.add_argument("element_id")
    branch.add_argument("variable")
    branch.add_argument("go_file")
    branch.add_argument("instance_ids", nargs="+")
    args = parser.parse_args()
    if args.command == "loop":
        run_loop(args)
    else:
        run_branch(args)


if __name__ == "__main__":
    main()
