"""(b) Start + complete throughput of a five-step process, per database and worker count.

The model is `models/five_steps.bpmn`: start, "Enter order" (`${team}`), "Review order"
(`${reviewer}`), an exclusive gateway on `${approved}`, "Ship order", end. One instance is
`start` and three completions, each task found with `tasks(instance_id=...)`.

Each worker is a separate OS process with its own `Engine` (as separate application nodes
would be), starting and finishing its own instances. The workers warm up (connection, parsed
spec), meet at a barrier, then run for a fixed time; throughput is all instances finished
divided by the longest worker's time. Raw SpiffWorkflow runs the same model in memory in one
process, as the reference.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from benchmarks import raw_spiff
from benchmarks.databases import fresh_pg, sqlite_file_url
from benchmarks.report import Section, ms, ratio, verdict
from benchmarks.settings import Sizes
from flowdesk import Engine

MODEL = Path(__file__).parent / "models" / "five_steps.bpmn"
PROCESS = "five_steps"
START_VARIABLES = {"team": "sales", "reviewer": "bob"}
COMPLETIONS: tuple[dict[str, Any], ...] = ({"amount": 120}, {"approved": True}, {})
WARM_UP_INSTANCES = 3


@dataclass(frozen=True)
class Result:
    """Instances finished, wall seconds, and CPU seconds used by the measuring processes."""

    instances: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_instance(self) -> float:
        return self.cpu_seconds / self.instances if self.instances else 0.0

    def __add__(self, other: Result) -> Result:
        return Result(
            self.instances + other.instances,
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
        )


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Measure raw Spiff, flowdesk on SQLite (1 worker) and on PostgreSQL (1, 2, 4 workers).

    Every measurement runs twice for half the time, in mirrored order (1, 2, 4 workers, then
    4, 2, 1; raw and SQLite first and last), so a change in the machine's load over the run
    weighs on every figure alike.
    """
    half = sizes.throughput_seconds / 2
    section = Section(
        "(b) Start + complete throughput, five-step process",
        ["run", "workers", "instances/s", "vs 1 worker", "raw Spiff / this", "CPU per instance"],
        data={"seconds": sizes.throughput_seconds},
    )
    sqlite_url = sqlite_file_url(workdir, "throughput")
    raw = _raw(half)
    sqlite = _measure(sqlite_url, 1, half)
    by_workers: dict[int, Result] = {}
    pg_url = fresh_pg(pg) if pg else None
    if pg_url:
        order = list(sizes.pg_workers)
        for workers in order + order[::-1]:
            result = _measure(pg_url, workers, half)
            by_workers[workers] = by_workers[workers] + result if workers in by_workers else result
    sqlite += _measure(sqlite_url, 1, half)
    raw += _raw(half)

    section.rows.append(
        ["raw SpiffWorkflow, in memory", 1, _rate(raw), "", "1.00x", ms(raw.cpu_per_instance)]
    )
    section.rows.append(
        [
            "flowdesk, SQLite file",
            1,
            _rate(sqlite),
            "1.00x",
            ratio(raw.per_second, sqlite.per_second),
            ms(sqlite.cpu_per_instance),
        ]
    )
    section.data["raw"] = raw.per_second
    section.data["sqlite"] = sqlite.per_second
    if not pg_url:
        section.notes.append("PostgreSQL not measured: pass --pg URL or set FLOWDESK_BENCH_PG.")
        return section
    one = by_workers[sizes.pg_workers[0]].per_second
    for workers, result in by_workers.items():
        section.rows.append(
            [
                "flowdesk, PostgreSQL",
                workers,
                _rate(result),
                ratio(result.per_second, one),
                ratio(raw.per_second, result.per_second),
                ms(result.cpu_per_instance),
            ]
        )
    section.data["pg"] = {workers: r.per_second for workers, r in by_workers.items()}
    rates = [by_workers[w].per_second for w in sizes.pg_workers]
    growing = all(later > earlier for earlier, later in itertools.pairwise(rates))
    cores = os.cpu_count() or 1
    within = [by_workers[w].per_second for w in sizes.pg_workers if w <= cores]
    growing_to_cores = all(later > earlier for earlier, later in itertools.pairwise(within))
    section.notes += [
        "CPU per instance: CPU time of the worker processes (the benchmark process for raw "
        "Spiff) per finished instance; the database server's own CPU is not included. "
        f"{os.cpu_count()} cores are shared by the workers, the database server and whatever "
        "else runs on the machine.",
        verdict(
            growing,
            "throughput grows with workers on PostgreSQL",
            ", ".join(f"{w}: {r:.1f}/s" for w, r in zip(sizes.pg_workers, rates, strict=True)),
        ),
        verdict(
            growing_to_cores,
            f"throughput grows with workers up to the {cores} cores",
            ", ".join(f"{r:.1f}/s" for r in within),
        ),
    ]
    return section


def _rate(result: Result) -> str:
    return f"{result.per_second:.1f} ({result.instances} in {result.seconds:.1f} s)"


def _raw(seconds: float) -> Result:
    process = raw_spiff.RawProcess(MODEL, PROCESS)
    for _ in range(WARM_UP_INSTANCES):
        _raw_instance(process)
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        _raw_instance(process)
        count += 1
    return Result(count, time.perf_counter() - started, time.process_time() - cpu)


def _raw_instance(process: raw_spiff.RawProcess) -> None:
    instance = process.start(START_VARIABLES)
    for data in COMPLETIONS:
        if not instance.complete_next(data):
            raise RuntimeError("raw Spiff: no READY user task where the model has one")
    if not instance.completed:
        raise RuntimeError("raw Spiff: the five-step instance did not complete")


def _measure(url: str, workers: int, seconds: float) -> Result:
    with Engine(url, load_entry_points=False) as engine:  # migrate and deploy once, up front
        engine.deploy(MODEL)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(url, seconds, barrier, results), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds * 4 + 120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if failures:
        raise RuntimeError(f"benchmark worker failed: {failures[0]}")
    counts = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    return Result(
        sum(count for count, _, _ in counts),
        max(wall for _, wall, _ in counts),
        sum(cpu for _, _, cpu in counts),
    )


def _worker(url: str, seconds: float, barrier: Barrier, results: Any) -> None:
    """One worker process: warm up, wait for the others, then start and finish instances."""
    try:
        with Engine(url, load_entry_points=False) as engine:
            for _ in range(WARM_UP_INSTANCES):
                _flowdesk_instance(engine)
            barrier.wait(timeout=120)
            count, started, cpu = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - started < seconds:
                _flowdesk_instance(engine)
                count += 1
            results.put((count, time.perf_counter() - started, time.process_time() - cpu))
    except BaseException as err:  # reported to the parent, which fails the run
        barrier.abort()  # do not leave the other workers waiting for this one
        results.put(f"{type(err).__name__}: {err}")


def _flowdesk_instance(engine: Engine) -> None:
    instance = engine.start(PROCESS, START_VARIABLES)
    for data in COMPLETIONS:
        (task,) = engine.tasks(instance_id=instance.id)
        instance = engine.complete(task.id, data)
    if instance.state != "completed":
        raise RuntimeError(f"instance {instance.id} ended {instance.state}, not completed")
