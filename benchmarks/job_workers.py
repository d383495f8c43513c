"""(e) Job workers on PostgreSQL: 1, 2 and 4 worker processes draining the same jobs.

The model is `models/async_steps.bpmn`: three service tasks in a row, each
`camunda:asyncBefore`, so an instance is three jobs run one after the other, each by whichever
worker leases it (the straight-through orchestration a Camunda 7 cluster runs on its job
executors). The handler does nothing, so a job costs what flowdesk costs.

Each measurement starts `sizes.job_instances` instances (untimed), then starts the workers,
each its own process and `Engine`, calling `run_due_jobs()` in passes (50 ms pause after a pass
that found nothing) until all the jobs have run. Worker counts run in rounds, mirrored, as in
(b); each is reported with its spread, the largest share one worker ran, and the probes of
`server_probes`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import warnings
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

from benchmarks import server_probes
from benchmarks.databases import fresh_pg
from benchmarks.report import Section, median, ms
from benchmarks.settings import Sizes
from flowdesk import Engine, MissingHandlerWarning

MODEL = Path(__file__).parent / "models" / "async_steps.bpmn"
PROCESS = "async_steps"
JOBS_PER_INSTANCE = 3
HANDLER = "orderStep"
IDLE_PAUSE = 0.05
GIVE_UP_SECONDS = 600.0  # a job that never runs must not hang the benchmark


@dataclass(frozen=True)
class Drained:
    """One measurement: jobs run, the slowest worker's seconds, CPU, and who ran how many."""

    jobs: int
    seconds: float
    cpu_seconds: float
    shares: tuple[int, ...]
    server_cpu_seconds: float | None
    machine_busy: float | None

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Measure job draining with each worker count on PostgreSQL, in mirrored rounds."""
    del workdir
    section = Section(
        "(e) Job workers on PostgreSQL, three async service tasks per instance",
        [
            "workers",
            "jobs/s",
            "vs 1 worker",
            "worker CPU / job",
            "server CPU / job",
            "cores busy",
            "largest share",
        ],
    )
    if not pg:
        section.notes.append("Not measured: pass --pg URL or set FLOWDESK_BENCH_PG.")
        return section
    url = fresh_pg(pg)
    rounds: list[dict[int, Drained]] = []
    for number in range(sizes.throughput_rounds):
        order = sizes.pg_workers if number % 2 == 0 else sizes.pg_workers[::-1]
        rounds.append({w: _drain(url, w, sizes.job_instances) for w in order})
    first = sizes.pg_workers[0]
    for workers in sizes.pg_workers:
        results = [r[workers] for r in rounds]
        rates = [x.per_second for x in results]
        speedups = [r[workers].per_second / r[first].per_second for r in rounds]
        server = [x.server_cpu_seconds for x in results]
        busy = [x.machine_busy for x in results]
        section.rows.append(
            [
                workers,
                f"{median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f}; {len(rates)} runs)",
                f"{median(speedups):.2f}x ({min(speedups):.2f}x-{max(speedups):.2f}x)",
                ms(median([x.cpu_seconds / x.jobs for x in results])),
                ms(median([(s or 0.0) / x.jobs for s, x in zip(server, results, strict=True)]))
                if None not in server
                else "n/a",
                f"{median([b or 0.0 for b in busy]):.2f}" if None not in busy else "n/a",
                f"{max(max(x.shares) / x.jobs for x in results):.0%}",
            ]
        )
    section.data["jobs_per_second"] = {
        w: [r[w].per_second for r in rounds] for w in sizes.pg_workers
    }
    section.notes.append(
        f"{sizes.job_instances} instances ({sizes.job_instances * JOBS_PER_INSTANCE} jobs) per "
        "measurement. Largest share: the most jobs one worker ran, of all, in the worst run "
        "(an even split is 1/workers). Server CPU and cores busy as in (b2)."
    )
    return section


def _drain(url: str, workers: int, instances: int) -> Drained:
    with Engine(url, load_entry_points=False) as engine, warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingHandlerWarning)  # the workers register it
        engine.deploy(MODEL)
        for _ in range(instances):
            engine.start(PROCESS, {})
    total = instances * JOBS_PER_INSTANCE
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    release = context.Event()  # the workers keep their connections until the probe is read
    done = context.Value("i", 0)
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker, args=(url, total, done, barrier, release, results), daemon=True
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    probe = server_probes.ServerProbe(url)
    with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed: see below
        barrier.wait(timeout=120)
    probe.start()
    try:
        outcomes = [results.get(timeout=600) for _ in processes]
        probe.stop()
    finally:
        release.set()
    for process in processes:
        process.join(timeout=30)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if failures:
        raise RuntimeError(f"job worker failed: {failures[0]}")
    counts = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    return Drained(
        sum(ran for ran, _, _ in counts),
        max(wall for _, wall, _ in counts),
        sum(cpu for _, _, cpu in counts),
        tuple(ran for ran, _, _ in counts),
        probe.server_cpu,
        probe.machine_busy,
    )


def _worker(
    url: str,
    total: int,
    done: Synchronized[int],
    barrier: Barrier,
    release: Event,
    results: Any,
) -> None:
    """Run passes until every job of the measurement has run (by any worker)."""
    try:
        with Engine(url, load_entry_points=False) as engine:
            engine.handlers.register_service(HANDLER, lambda call: None)
            engine.definitions(key=PROCESS)  # warm up the connection; runs no job
            barrier.wait(timeout=120)
            ran, started, cpu = 0, time.perf_counter(), time.process_time()
            while done.value < total and time.perf_counter() - started < GIVE_UP_SECONDS:
                fired = engine.run_due_jobs()
                ran += fired
                with done.get_lock():
                    done.value += fired
                if not fired:
                    time.sleep(IDLE_PAUSE)
            results.put((ran, time.perf_counter() - started, time.process_time() - cpu))
            release.wait(timeout=120)
    except BaseException as err:  # reported to the parent, which fails the run
        barrier.abort()
        results.put(f"{type(err).__name__}: {err}")
