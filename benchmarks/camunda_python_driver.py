"""Drives camunda-python (PyPI `camunda-python`) for `benchmarks.other_engine`, in its own Python.

camunda-python needs Python 3.12, and flowdesk's environment may be older, so this file runs
as a separate process under an interpreter that has `camunda` installed, and imports nothing
from flowdesk or the rest of `benchmarks`. It reads one JSON command per line on stdin and
answers each with one JSON line on stdout, so the benchmark can interleave its completions
one by one with flowdesk's and raw SpiffWorkflow's, as the loop benchmark does.

Commands (`op`), each answered with `{"ok": ..., ...}` or `{"error": "..."}`:

- `open`: `db` ("memory" or a SQLAlchemy URL for camunda-python's `Store`), `model` (a BPMN
  file); deploys it. Answers the camunda-python version.
- `start`: `process`, `variables`; starts an instance and answers its id.
- `step`: `instance`, `variables`; finds the instance's open task
  (`create_task_query(process_instance_id=...)`) and completes it with `variables`; answers
  the seconds it took, or null when the instance had no open task.
- `ended`: `instance`; whether the instance has completed and has no open task.
- `five_steps`: `process`, `start`, `completions`, `seconds`; starts and finishes instances
  for that long, each task found by instance id; answers the count, wall and CPU seconds.
- `close`.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any


class Driver:
    """One camunda-python `ProcessEngine` and the commands that drive it."""

    def __init__(self) -> None:
        self.engine: Any = None
        self.instances: dict[str, Any] = {}

    def open(self, db: str, model: str) -> str:
        from camunda.engine import ProcessEngine
        from camunda.parser import parse_bpmn_xml

        if db == "memory":
            self.engine = ProcessEngine()
        else:
            from camunda.persistence.store import Store

            self.engine = ProcessEngine(store=Store(db))
        self.engine.deploy(parse_bpmn_xml(Path(model).read_text(), source_name=Path(model).name))
        return metadata.version("camunda-python")

    def start(self, process: str, variables: dict[str, Any]) -> str:
        instance = self.engine.start_process_instance_by_key(process, dict(variables))
        self.instances[instance.id] = instance
        return str(instance.id)

    def step(self, instance: str, variables: dict[str, Any]) -> float | None:
        started = time.perf_counter()
        tasks = self.engine.create_task_query(process_instance_id=instance)
        if not tasks:
            return None
        self.engine.complete_task(tasks[0].id, dict(variables))
        return time.perf_counter() - started

    def ended(self, instance: str) -> bool:
        return bool(self.instances[instance].is_completed) and not self.engine.create_task_query(
            process_instance_id=instance
        )

    def five_steps(
        self,
        process: str,
        start: dict[str, Any],
        completions: list[dict[str, Any]],
        seconds: float,
    ) -> dict[str, float]:
        count, began, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - began < seconds:
            instance = self.start(process, start)
            for data in completions:
                if self.step(instance, data) is None:
                    raise RuntimeError("camunda-python: no open task where the model has one")
            if not self.ended(instance):
                raise RuntimeError("camunda-python: the five-step instance did not complete")
            del self.instances[instance]
            count += 1
        return {
            "instances": count,
            "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - cpu,
        }

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def main() -> int:
    driver = Driver()
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            if op == "close":
                driver.close()
                print(json.dumps({"ok": True}), flush=True)
                return 0
            print(json.dumps({"ok": getattr(driver, op)(**command)}), flush=True)
        except Exception as err:  # reported to the benchmark, which fails the section
            print(json.dumps({"error": f"{type(err).__name__}: {err}"}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
