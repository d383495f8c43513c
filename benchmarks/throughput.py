"""(b) Start + complete throughput of a five-step process, per database and worker count.

The model is `models/five_steps.bpmn`: start, "Enter order" (`${team}`), "Review order"
(`${reviewer}`), an exclusive gateway on `${approved}`, "Ship order", end. One instance is
`start` and three completions, each task found with `tasks(instance_id=...)`.

Each worker is a separate OS process with its own `Engine` (as separate application nodes
would be), starting and finishing its own instances. The workers warm up (connection, parsed
spec), meet at a barrier, then run for a fixed time; throughput is all instances finished
divided by the longest worker's time. Raw SpiffWorkflow runs the same model in memory in one
process, as the reference. flowdesk on an in-memory SQLite database shows what its own Python
costs with no disk at all: the most any durability setting could reach on this machine.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

from benchmarks import raw_spiff, server_probes
from benchmarks.databases import fresh_pg, sqlite_file_url
from benchmarks.report import Section, median, ms, ratio, verdict
from benchmarks.settings import Sizes
from flowdesk import Engine
from flowdesk.store import SqliteSynchronous

MODEL = Path(__file__).parent / "models" / "five_steps.bpmn"
PROCESS = "five_steps"
START_VARIABLES = {"team": "sales", "reviewer": "bob"}
COMPLETIONS: tuple[dict[str, Any], ...] = ({"amount": 120}, {"approved": True}, {})
WARM_UP_INSTANCES = 3
MIN_TWO_WORKER_SPEEDUP = 1.6  # the target for 2 workers against 1 on PostgreSQL
MIN_SQLITE_RATE = 300  # the target: instances/s on a SQLite file, one process
IN_MEMORY = "sqlite://"  # one worker's own database: it deploys the model itself


@dataclass(frozen=True)
class Result:
    """Instances finished, wall seconds, and CPU seconds used by the measuring processes.

    For PostgreSQL also what the probes saw (see `server_probes`): the CPU seconds of the
    database's backends, how many cores the whole machine kept busy, and the backends' waits.
    """

    instances: int
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float | None = None
    machine_busy: float | None = None
    waits: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_instance(self) -> float:
        return self.cpu_seconds / self.instances if self.instances else 0.0

    @property
    def server_cpu_per_instance(self) -> float | None:
        if self.server_cpu_seconds is None or not self.instances:
            return None
        return self.server_cpu_seconds / self.instances

    def __add__(self, other: Result) -> Result:
        return Result(
            self.instances + other.instances,
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
        )


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Measure raw Spiff, flowdesk on SQLite (1 worker; a file with synchronous FULL and
    NORMAL, and in memory) and on PostgreSQL (1, 2, 4 workers, `sizes.throughput_rounds`
    times).

    Raw Spiff and SQLite run first and last (mirrored), half the time each. The PostgreSQL
    worker counts run in rounds, each round in the opposite order of the one before (1, 2, 4,
    then 4, 2, 1, ...), so a change in the machine's load weighs on every count alike, and
    each count's spread over the rounds is reported, not one run.
    """
    half = sizes.throughput_seconds / 2
    section = Section(
        "(b) Start + complete throughput, five-step process",
        ["run", "workers", "instances/s", "vs 1 worker", "raw Spiff / this", "CPU per instance"],
        data={"seconds": sizes.throughput_seconds, "rounds": sizes.throughput_rounds},
    )
    sqlite_urls = {
        level: sqlite_file_url(workdir, f"throughput_{level.lower()}")
        for level in ("FULL", "NORMAL")
    }
    sqlite_urls["in memory"] = IN_MEMORY
    raw = measure_raw(half)
    sqlite = {
        level: _measure(url, 1, half, _durability(level)) for level, url in sqlite_urls.items()
    }
    rounds: list[dict[int, Result]] = []
    pg_url = fresh_pg(pg) if pg else None
    if pg_url:
        for number in range(sizes.throughput_rounds):
            order = sizes.pg_workers if number % 2 == 0 else sizes.pg_workers[::-1]
            rounds.append({w: _measure(pg_url, w, half, "FULL", probe=True) for w in order})
    for level, url in reversed(sqlite_urls.items()):
        sqlite[level] += _measure(url, 1, half, _durability(level))
    raw += measure_raw(half)

    section.rows.append(
        ["raw SpiffWorkflow, in memory", 1, _rate(raw), "", "1.00x", ms(raw.cpu_per_instance)]
    )
    labels = {
        "FULL": "flowdesk, SQLite file",
        "NORMAL": "flowdesk, SQLite file, synchronous=NORMAL",
        "in memory": "flowdesk, SQLite in memory (no disk)",
    }
    for level, result in sqlite.items():
        section.rows.append(
            [
                labels[level],
                1,
                _rate(result),
                "1.00x" if level == "FULL" else ratio(result.per_second, sqlite["FULL"].per_second),
                ratio(raw.per_second, result.per_second),
                ms(result.cpu_per_instance),
            ]
        )
    section.data["raw"] = raw.per_second
    section.data["sqlite"] = sqlite["FULL"].per_second
    section.data["sqlite_normal"] = sqlite["NORMAL"].per_second
    section.data["sqlite_memory"] = sqlite["in memory"].per_second
    section.notes.append(
        verdict(
            sqlite["FULL"].per_second >= MIN_SQLITE_RATE,
            f"at least {MIN_SQLITE_RATE} instances/s on a SQLite file, one process",
            f"{sqlite['FULL'].per_second:.1f}/s; with synchronous=NORMAL "
            f"{sqlite['NORMAL'].per_second:.1f}/s; in memory, no file, "
            f"{sqlite['in memory'].per_second:.1f}/s",
        )
    )
    if not pg_url:
        section.notes.append("PostgreSQL not measured: pass --pg URL or set FLOWDESK_BENCH_PG.")
        return section
    _pg_rows(section, sizes, rounds, raw)
    return section


def _pg_rows(section: Section, sizes: Sizes, rounds: list[dict[int, Result]], raw: Result) -> None:
    """The PostgreSQL rows: per worker count, the median and the spread over the rounds."""
    first = sizes.pg_workers[0]
    medians: dict[int, float] = {}
    speedups: dict[int, list[float]] = {}
    for workers in sizes.pg_workers:
        rates = [r[workers].per_second for r in rounds]
        # Each round's count against the same round's 1 worker: the load of that moment.
        speedups[workers] = [r[workers].per_second / r[first].per_second for r in rounds]
        medians[workers] = median(rates)
        section.rows.append(
            [
                "flowdesk, PostgreSQL",
                workers,
                f"{medians[workers]:.1f} ({_spread(rates, '{:.1f}')}; {len(rounds)} runs)",
                f"{median(speedups[workers]):.2f}x ({_spread(speedups[workers], '{:.2f}x')})",
                ratio(raw.per_second, medians[workers]),
                ms(median([r[workers].cpu_per_instance for r in rounds])),
            ]
        )
    section.data["pg"] = medians
    section.data["pg_runs"] = {w: [r[w].per_second for r in rounds] for w in sizes.pg_workers}
    section.data["pg_speedup"] = speedups

    where = Section(
        "(b2) Where the time went on PostgreSQL (medians over the runs)",
        [
            "workers",
            "worker CPU / instance",
            "server CPU / instance",
            "cores busy (whole machine)",
            "of which workers + server",
            "backend samples",
        ],
    )
    for workers in sizes.pg_workers:
        results = [r[workers] for r in rounds]
        server = [x.server_cpu_per_instance for x in results]
        busy = [x.machine_busy for x in results]
        ours = [(x.cpu_seconds + (x.server_cpu_seconds or 0.0)) / x.seconds for x in results]
        waits: collections.Counter[str] = collections.Counter()
        for x in results:
            waits.update(x.waits)
        total = sum(waits.values()) or 1
        where.rows.append(
            [
                workers,
                ms(median([x.cpu_per_instance for x in results])),
                ms(median([v for v in server if v is not None])) if None not in server else "n/a",
                f"{median([b for b in busy if b is not None]):.2f}" if None not in busy else "n/a",
                f"{median(ours):.2f}",
                "; ".join(f"{name} {count / total:.0%}" for name, count in waits.most_common()),
            ]
        )
    section.notes.append(where.render())
    cores = os.cpu_count() or 1
    two = speedups.get(2)
    section.notes += [
        "CPU per instance: CPU time of the worker processes (the benchmark process for raw "
        "Spiff) per finished instance. Server CPU: the PostgreSQL backends serving the "
        "benchmark database (from /proc; n/a when the server is not on this machine). Cores "
        "busy: all CPU use on the machine during the window (/proc/stat), other people's "
        f"work included; {cores} cores in all. Backend samples: pg_stat_activity every "
        f"{server_probes.SAMPLE_SECONDS * 1000:.0f} ms.",
        verdict(
            all(
                medians[later] > medians[earlier]
                for earlier, later in itertools.pairwise(w for w in sizes.pg_workers if w <= cores)
            ),
            f"throughput grows with workers up to the {cores} cores (medians)",
            ", ".join(f"{w}: {medians[w]:.1f}/s" for w in sizes.pg_workers),
        ),
    ]
    if two is not None:
        section.notes.append(
            verdict(
                median(two) >= MIN_TWO_WORKER_SPEEDUP,
                f"2 workers at least {MIN_TWO_WORKER_SPEEDUP:g}x one worker (median of the runs)",
                f"{median(two):.2f}x, runs {', '.join(f'{v:.2f}x' for v in two)}",
            )
        )


def _spread(values: list[float], form: str) -> str:
    return f"{form.format(min(values))}-{form.format(max(values))}"


def _durability(level: str) -> SqliteSynchronous:
    return "NORMAL" if level == "NORMAL" else "FULL"  # in memory there is nothing to sync


def _rate(result: Result) -> str:
    return f"{result.per_second:.1f} ({result.instances} in {result.seconds:.1f} s)"


def measure_raw(seconds: float) -> Result:
    """Raw Spiff in this process: five-step instances for `seconds`, after a warm-up."""
    process = raw_spiff.RawProcess(MODEL, PROCESS)
    for _ in range(WARM_UP_INSTANCES):
        _raw_instance(process)
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        _raw_instance(process)
        count += 1
    return Result(count, time.perf_counter() - started, time.process_time() - cpu)


def measure_flowdesk(url: str, seconds: float, synchronous: str = "FULL") -> Result:
    """flowdesk in one worker process on `url`: five-step instances for `seconds`."""
    return _measure(url, 1, seconds, synchronous)


def _raw_instance(process: raw_spiff.RawProcess) -> None:
    instance = process.start(START_VARIABLES)
    for data in COMPLETIONS:
        if not instance.complete_next(data):
            raise RuntimeError("raw Spiff: no READY user task where the model has one")
    if not instance.completed:
        raise RuntimeError("raw Spiff: the five-step instance did not complete")


def _measure(
    url: str, workers: int, seconds: float, synchronous: str, *, probe: bool = False
) -> Result:
    if url != IN_MEMORY:
        with Engine(url, load_entry_points=False) as engine:  # migrate and deploy once, up front
            engine.deploy(MODEL)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)  # and this process, which starts the probes
    release = context.Event()  # the workers keep their connections until the probes are read
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker,
            args=(url, seconds, synchronous, barrier, release, results),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    probes = server_probes.ServerProbe(url) if probe else None
    try:
        with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed: see below
            barrier.wait(timeout=120)
        if probes is not None:
            probes.start()
        outcomes = [results.get(timeout=seconds * 4 + 120) for _ in processes]
        if probes is not None:
            probes.stop()
    finally:
        release.set()
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
        probes.server_cpu if probes else None,
        probes.machine_busy if probes else None,
        probes.waits if probes else collections.Counter(),
    )


def _worker(
    url: str,
    seconds: float,
    synchronous: SqliteSynchronous,
    barrier: Barrier,
    release: Event,
    results: Any,
) -> None:
    """One worker process: warm up, wait for the others, then start and finish instances."""
    try:
        with Engine(url, load_entry_points=False, sqlite_synchronous=synchronous) as engine:
            if url == IN_MEMORY:
                engine.deploy(MODEL)
            for _ in range(WARM_UP_INSTANCES):
                _flowdesk_instance(engine)
            barrier.wait(timeout=120)
            count, started, cpu = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - started < seconds:
                _flowdesk_instance(engine)
                count += 1
            results.put((count, time.perf_counter() - started, time.process_time() - cpu))
            release.wait(timeout=120)
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
