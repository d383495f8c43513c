"""(d) flowdesk against another Python BPMN engine: camunda-python, on the same two models.

camunda-python (PyPI `camunda-python`, Apache-2.0) is a pure-Python reimplementation of the
Camunda 7 engine: its own parser, an in-memory token engine, and an optional SQLAlchemy store
that writes the instance at every command. A Python user who wants Camunda 7 models without
Java could pick it instead of flowdesk, so the docs say where flowdesk stands against it.

It needs Python 3.12, so it runs in its own interpreter: `camunda_python_driver.py` there,
driven over a pipe one command at a time. That lets the loop's completions be interleaved
with flowdesk's and raw SpiffWorkflow's one by one, as in benchmark (a); the pipe's round trip
is outside the timed part (the driver times each step itself).

The interpreter is `--camunda-python PATH` (or `FLOWDESK_BENCH_CAMUNDA_PYTHON`), else this
Python if it has camunda-python installed. Without one, the section says so and is skipped,
so `python -m benchmarks` runs on a fresh machine.

Runs: flowdesk on a SQLite file (the default, every commit synced) and in memory; raw Spiff
(iterator depth raised, as in (a)); camunda-python in memory and with its store on a SQLite
file (SQLAlchemy's default rollback journal, every commit synced). camunda-python's store
rewrites an instance's whole history at every command, so its per-step cost grows with the
rounds; its file run stops its loop at `STORE_ROUNDS` so that a full run stays minutes long.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import loop_cost, raw_spiff, throughput
from benchmarks.databases import sqlite_file_url
from benchmarks.loop_cost import LoopRun, Step
from benchmarks.report import Section, median, ms, ratio
from benchmarks.settings import Sizes
from flowdesk import Engine

DRIVER = Path(__file__).parent / "camunda_python_driver.py"
INTERPRETER_ENV = "FLOWDESK_BENCH_CAMUNDA_PYTHON"
INSTALL_HINT = (
    "install it into a Python 3.12 of its own and name that interpreter, e.g. "
    "`python3.12 -m venv ~/cp312 && ~/cp312/bin/pip install camunda-python`, then "
    "`python -m benchmarks --camunda-python ~/cp312/bin/python` "
    f"(or set {INTERPRETER_ENV})"
)
# camunda-python's store rewrites the whole history per command: its loop on a file stops here.
STORE_ROUNDS = 300


def find_interpreter() -> str | None:
    """The Python to run camunda-python in, or None when there is none."""
    named = os.environ.get(INTERPRETER_ENV)
    if named:
        return named
    if importlib.util.find_spec("camunda") is not None and _has_camunda_python(sys.executable):
        return sys.executable
    return None


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Loop and five-step throughput on flowdesk, raw Spiff and camunda-python, interleaved."""
    del pg  # camunda-python is compared on SQLite and in memory, as it ships
    section = Section(
        "(d) Another Python engine: camunda-python, same models",
        [
            "run",
            "early (median)",
            "late (median)",
            "late/early",
            "rounds run",
            "vs raw Spiff (early)",
        ],
    )
    interpreter = find_interpreter()
    if interpreter is None or not _has_camunda_python(interpreter):
        section.notes.append(
            "camunda-python not measured: not installed "
            f"(looked at {interpreter or INTERPRETER_ENV} and this Python). "
            f"To include it, {INSTALL_HINT}."
        )
        return section
    rounds, window = sizes.loop_rounds, sizes.loop_window
    store_rounds = min(rounds, STORE_ROUNDS)
    with contextlib.ExitStack() as stack:
        file_url = sqlite_file_url(workdir, "other_loop")
        fd_file = stack.enter_context(Engine(file_url, load_entry_points=False))
        fd_memory = stack.enter_context(Engine("sqlite://", load_entry_points=False))
        cp_memory = stack.enter_context(_driver(interpreter, "memory", loop_cost.MODEL))
        cp_file = stack.enter_context(
            _driver(interpreter, sqlite_file_url(workdir, "camunda_python_loop"), loop_cost.MODEL)
        )
        runs = [
            loop_cost.flowdesk_run("flowdesk, SQLite file", fd_file, rounds),
            loop_cost.flowdesk_run("flowdesk, SQLite in memory", fd_memory, rounds),
            _camunda_loop("camunda-python, in memory", cp_memory, rounds),
            _camunda_loop("camunda-python, its store on a SQLite file", cp_file, store_rounds),
            _raw_loop(rounds),
        ]
        _drive(runs, window)
        version = cp_memory.version
    raw_early = median(runs[-1].early)
    for loop in runs:
        early, late = median(loop.early), median(loop.late)
        if loop.stopped_at is not None:
            reached = f"stops: no open task at round {loop.stopped_at}"
        else:
            ended = ", then ended correctly" if loop.ended_correctly else ", did NOT end correctly"
            reached = f"{loop.last_round}{ended}"
        section.rows.append(
            [
                loop.label,
                f"{ms(early)} (rounds 1-{window})",
                f"{ms(late)} (rounds {loop.last_round - window + 1}-{loop.last_round})"
                if loop.late
                else "not reached",
                ratio(late, early) if loop.late else "",
                reached,
                ratio(early, raw_early),
            ]
        )
        section.data[loop.label] = {"early_s": early, "late_s": late}
    section.notes += [
        f"camunda-python {version}, run by {interpreter}. One step: find the instance's open "
        "task by instance id, complete it, run to the next wait; flowdesk commits each step, "
        "camunda-python's store writes the instance at each command.",
        _throughput(sizes, workdir, interpreter).render(),
    ]
    return section


def _throughput(sizes: Sizes, workdir: Path, interpreter: str) -> Section:
    """The five-step process, one process each; mirrored order, half the time each."""
    half = sizes.throughput_seconds / 2
    table = Section(
        "(d2) Five-step process, one process, instances per second",
        ["run", "instances/s", "raw Spiff / this", "CPU per instance"],
    )
    fd_url = sqlite_file_url(workdir, "other_throughput")
    cp_url = sqlite_file_url(workdir, "camunda_python_throughput")
    with (
        _driver(interpreter, "memory", throughput.MODEL) as cp_memory,
        _driver(interpreter, cp_url, throughput.MODEL) as cp_file,
    ):
        measures = {
            "raw SpiffWorkflow, in memory": lambda: throughput.measure_raw(half),
            "flowdesk, SQLite file": lambda: throughput.measure_flowdesk(fd_url, half),
            "camunda-python, in memory": lambda: _five_steps(cp_memory, half),
            "camunda-python, its store on a SQLite file": lambda: _five_steps(cp_file, half),
        }
        results: dict[str, throughput.Result] = {}
        for label in [*measures, *reversed(measures)]:
            result = measures[label]()
            results[label] = results[label] + result if label in results else result
    raw = results["raw SpiffWorkflow, in memory"].per_second
    for label, result in results.items():
        table.rows.append(
            [
                label,
                f"{result.per_second:.1f} ({result.instances} in {result.seconds:.1f} s)",
                ratio(raw, result.per_second),
                ms(result.cpu_per_instance),
            ]
        )
    return table


class _Driver:
    """camunda_python_driver.py in its interpreter, one JSON command and answer at a time."""

    def __init__(self, interpreter: str, db: str, model: Path) -> None:
        self._process = subprocess.Popen(
            [interpreter, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.version = str(self.call("open", db=db, model=str(model)))

    def call(self, op: str, **arguments: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._process.stdout.readline() or '{"error": "driver exited"}')
        if "error" in answer:
            raise RuntimeError(f"camunda-python {op}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            self.call("close")
        self._process.wait(timeout=30)


@contextlib.contextmanager
def _driver(interpreter: str, db: str, model: Path) -> Iterator[_Driver]:
    driver = _Driver(interpreter, db, model)
    try:
        yield driver
    finally:
        driver.close()


def _drive(runs: list[LoopRun], window: int) -> None:
    """Time the windows interleaved (`loop_cost.interleave`), then check each late instance
    ends with one more completion."""
    loop_cost.interleave(runs, window)
    for loop in runs:
        if loop.stopped_at is None:
            loop.ended_correctly = (
                loop.late_step(loop.last_round + 1) is not None and loop.late_ended()
            )


def _camunda_loop(label: str, driver: _Driver, rounds: int) -> LoopRun:
    early, late = (
        str(
            driver.call("start", process=loop_cost.PROCESS, variables={"n": rounds + 1, "round": 0})
        )
        for _ in range(2)
    )

    def stepper(instance_id: str) -> Step:
        def step(current: int) -> float | None:
            seconds = driver.call("step", instance=instance_id, variables={"round": current})
            return None if seconds is None else float(seconds)

        return step

    return LoopRun(
        label,
        stepper(early),
        stepper(late),
        rounds,
        lambda: bool(driver.call("ended", instance=late)),
    )


def _raw_loop(rounds: int) -> LoopRun:
    process = raw_spiff.RawProcess(loop_cost.MODEL, loop_cost.PROCESS)
    early, late = (process.start({"n": rounds + 1, "round": 0}) for _ in range(2))

    def stepper(instance: raw_spiff.RawInstance) -> Step:
        def step(current: int) -> float | None:
            with raw_spiff.deep_iterators():
                started = time.perf_counter()
                done = instance.complete_next({"round": current})
                elapsed = time.perf_counter() - started
            return elapsed if done else None

        return step

    return LoopRun(
        "raw SpiffWorkflow, iterator depth raised",
        stepper(early),
        stepper(late),
        rounds,
        lambda: late.completed,
    )


def _five_steps(driver: _Driver, seconds: float) -> throughput.Result:
    outcome = driver.call(
        "five_steps",
        process=throughput.PROCESS,
        start=throughput.START_VARIABLES,
        completions=list(throughput.COMPLETIONS),
        seconds=seconds,
    )
    return throughput.Result(
        int(outcome["instances"]), float(outcome["seconds"]), float(outcome["cpu_seconds"])
    )


def _has_camunda_python(interpreter: str) -> bool:
    try:
        found = subprocess.run(
            [interpreter, "-c", "import importlib.metadata as m; m.version('camunda-python')"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return False
    return found.returncode == 0
