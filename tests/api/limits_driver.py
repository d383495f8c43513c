"""A second OS process for the script-limit tests: it starts and completes instances of the
`quick` process (start -> user task -> end) on the same database, over and over, while the
test process runs a runaway script.

    python limits_driver.py DB_URL PROGRESS_FILE STOP_FILE

Each finished round appends `<start> <end>` (`time.time()` seconds, around the two calls) to
PROGRESS_FILE. When STOP_FILE exists it stops and prints a JSON object: the instance ids it
started, and the errors it met (type and message), which should be none.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import flowdesk


def main(db_url: str, progress: Path, stop: Path) -> None:
    started: list[str] = []
    errors: list[str] = []
    # Bounded in time, not in rounds: a fast machine runs many rounds while the hostile script
    # does, and the test needs rounds after it; the bound only ends an orphaned driver.
    deadline = time.monotonic() + 300
    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        while not stop.exists() and time.monotonic() < deadline:
            begin = time.time()
            try:
                instance = engine.start("quick")
                started.append(instance.id)
                (task,) = engine.tasks(instance_id=instance.id)
                engine.complete(task.id, {"done": True}, user="alice")
            except flowdesk.FlowdeskError as err:
                errors.append(f"{type(err).__name__}: {err}")
            with progress.open("a", encoding="utf-8") as out:
                out.write(f"{begin} {time.time()}\n")
    print(json.dumps({"started": started, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
