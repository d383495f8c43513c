"""How deploy time grows with the size of a model, and step time with the size of a variable.

`python -m benchmarks.input_sizes` generates models of a long chain of user tasks (each with a
documentation text, as Camunda Modeler writes them) of about 0.6 to 5 MB and deploys each on a
fresh SQLite database; then starts an instance with one string variable of 1 to 10 MB and times
the `complete` of its first two tasks. Linear growth shows as a constant time per MB. The limits
are raised for the run (`InputLimits`), since the largest inputs are over the defaults. Not part
of the wheel; docs/limits.md records a run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import flowdesk

MIB = 1024 * 1024
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_wide" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
    '<bpmn:process id="wide" isExecutable="true">\n'
    '<bpmn:startEvent id="Start"><bpmn:outgoing>F_start</bpmn:outgoing></bpmn:startEvent>\n'
    '<bpmn:sequenceFlow id="F_start" sourceRef="Start" targetRef="Fork" />\n'
)
# Tasks per branch. SpiffWorkflow's parser recurses along a path of the flow, so a single
# chain of ~480 elements exceeds Python's recursion limit (see docs/limits.md): a large model
# is many short branches here, as large real models are.
BRANCH = 40


def wide_model(tasks: int) -> str:
    """A process that forks into branches of `BRANCH` user tasks each and joins them again,
    `tasks` user tasks in all; about 560 bytes a task."""
    branches = max(1, tasks // BRANCH)
    parts = [_HEAD, '<bpmn:parallelGateway id="Fork" />\n', '<bpmn:parallelGateway id="Join" />\n']
    for b in range(branches):
        previous = "Fork"
        for i in range(BRANCH):
            task = f"Task_{b}_{i}"
            parts.append(
                f'<bpmn:userTask id="{task}" name="Step {i} of part {b}" '
                'camunda:candidateGroups="team">'
                f"<bpmn:documentation>Check item {i} of part {b} against the contract and "
                "record what differs; ask the customer when a line is unclear."
                "</bpmn:documentation></bpmn:userTask>\n"
                f'<bpmn:sequenceFlow id="F_{task}" sourceRef="{previous}" targetRef="{task}" />\n'
            )
            previous = task
        parts.append(
            f'<bpmn:sequenceFlow id="F_join_{b}" sourceRef="{previous}" targetRef="Join" />\n'
        )
    parts.append('<bpmn:endEvent id="End" />\n')
    parts.append('<bpmn:sequenceFlow id="F_end" sourceRef="Join" targetRef="End" />\n')
    parts.append("</bpmn:process>\n</bpmn:definitions>\n")
    return "".join(parts)


def chain_model(tasks: int) -> str:
    """A process of `tasks` user tasks in a row."""
    parts = [_HEAD.replace('targetRef="Fork"', 'targetRef="Task_0"')]
    for i in range(tasks):
        following = f"Task_{i + 1}" if i + 1 < tasks else "End"
        parts.append(
            f'<bpmn:userTask id="Task_{i}" name="Step {i}" />\n'
            f'<bpmn:sequenceFlow id="F_{i}" sourceRef="Task_{i}" targetRef="{following}" />\n'
        )
    parts.append('<bpmn:endEvent id="End" />\n</bpmn:process>\n</bpmn:definitions>\n')
    return "".join(parts)


def _engine(folder: Path) -> flowdesk.Engine:
    limits = flowdesk.InputLimits(max_file_bytes=64 * MIB, max_variables_bytes=64 * MIB)
    return flowdesk.Engine(
        f"sqlite:///{folder / 'bench.db'}", load_entry_points=False, input_limits=limits
    )


def deploy_times(task_counts: list[int]) -> list[tuple[int, float, float]]:
    """(tasks, MB, seconds to deploy) per model size, each on a fresh database."""
    rows = []
    for tasks in task_counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model = folder / "model.bpmn"
            model.write_text(wide_model(tasks))
            with _engine(folder) as engine:
                began = time.perf_counter()
                engine.deploy(model)
                rows.append((tasks, model.stat().st_size / MIB, time.perf_counter() - began))
    return rows


def step_times(sizes_mib: list[float]) -> list[tuple[float, float, float]]:
    """(MB, seconds to start, seconds per complete) with one string variable of that size."""
    rows = []
    for size in sizes_mib:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model = folder / "model.bpmn"
            model.write_text(chain_model(5))
            with _engine(folder) as engine:
                engine.deploy(model)
                began = time.perf_counter()
                instance = engine.start("wide", {"blob": "x" * int(size * MIB)})
                started = time.perf_counter() - began
                began = time.perf_counter()
                for _ in range(2):
                    (task,) = engine.tasks(instance_id=instance.id)
                    engine.complete(task.id, {})
                rows.append((size, started, (time.perf_counter() - began) / 2))
    return rows


def main() -> int:
    print("deploy: tasks  MB     seconds  s/MB")
    for tasks, mb, seconds in deploy_times([1000, 2000, 4000, 8000]):
        print(f"        {tasks:5d}  {mb:5.2f}  {seconds:7.2f}  {seconds / mb:5.2f}")
    print("variable: MB     start s  step s")
    for mb, started, step in step_times([1, 2.5, 5, 10]):
        print(f"          {mb:5.1f}  {started:7.2f}  {step:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
