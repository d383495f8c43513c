"""(a) Cost of one completion early in a loop and after many rounds, flowdesk against raw Spiff.

The model is `models/loop.bpmn`: a user task and an exclusive gateway back to it
(`${round < n}`). One measured completion is what an application does for one step: find the
open task of the instance, complete it with `{"round": r}`, and let the engine run to the next
wait (flowdesk: `tasks(instance_id=...)` + `complete(...)`, each its own transaction;
raw Spiff: `get_tasks(READY, manual)` + `run()` + `do_engine_steps()` in memory).

Each run keeps two instances: a fresh one for the early window (rounds 1..w) and one first
driven, untimed, to the late window (the last w rounds). The windows of every run are then
measured interleaved, one completion each in turn, so a neighbour's load on this shared
machine hits early and late, flowdesk and Spiff alike, and the ratios stay fair. The order
turns by one run every round: a completion measured right after raw Spiff's late one (several
milliseconds that leave the CPU caches cold) took 0.4-0.8 ms longer, whichever run it was, so
a fixed order charged that to the first run alone.

Raw Spiff 3.2 stops after 500 rounds (its task iterators look only 1000 levels deep and a
round adds two), so it runs twice: as shipped, with its late window just before it stops,
and with the iterator depth default raised (`raw_spiff.deep_iterators`, around its own calls
only) so that it reaches the same late window as flowdesk.

The floor rows time one durable commit of a one-row update on each database, since every
flowdesk completion commits at least once. The SQLite file runs twice, with
`sqlite_synchronous="FULL"` (the default: every commit synced) and `"NORMAL"` (the WAL synced
only at checkpoints), and so does its floor row.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import raw_spiff
from benchmarks.databases import capture_sql, fresh_pg, sqlite_file_url
from benchmarks.report import Section, median, ms, ratio, verdict
from benchmarks.settings import Sizes
from flowdesk import Engine
from flowdesk.store import SqliteSynchronous

MODEL = Path(__file__).parent / "models" / "loop.bpmn"
PROCESS = "loop"
RAW_LIMIT = 500  # the last round raw Spiff 3.2 completes as shipped
MAX_OVERHEAD = 3.0
MAX_LATE_OVER_EARLY = 1.5
SQL_COUNTED_ROUNDS = 10
FLOOR_COMMITS = 50

# The same loop on a SQLite file opened with `Engine(sqlite_synchronous="NORMAL")`.
NORMAL_SYNC_LABEL = "flowdesk, SQLite file, synchronous=NORMAL"

# Completes one round; returns the seconds it took, or None when no task was open.
Step = Callable[[int], "float | None"]


@dataclass
class LoopRun:
    """One way of running the loop, its two instances, and what was measured."""

    label: str
    early_step: Step
    late_step: Step
    last_round: int  # the late window ends here
    late_ended: Callable[[], bool]  # whether the late instance has ended (completed)
    early: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    early_cpu: list[float] = field(default_factory=list)  # CPU seconds of this process
    stopped_at: int | None = None  # the first round that found no open task
    ended_correctly: bool | None = None  # one more completion after the last round ended it
    state_bytes: tuple[int, int] | None = None  # stored workflow state: early, late instance


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Measure the loop on flowdesk (SQLite file and memory, PostgreSQL) and on raw Spiff."""
    rounds, window = sizes.loop_rounds, sizes.loop_window
    with contextlib.ExitStack() as stack:
        file_url = sqlite_file_url(workdir, "loop")
        urls = [("flowdesk, SQLite file", file_url)]
        urls.append((NORMAL_SYNC_LABEL, sqlite_file_url(workdir, "loop_normal")))
        urls.append(("flowdesk, SQLite in memory (no disk)", "sqlite://"))
        pg_url = fresh_pg(pg) if pg else None
        if pg_url:
            urls.append(("flowdesk, PostgreSQL", pg_url))
        engines = {
            label: stack.enter_context(
                Engine(url, load_entry_points=False, sqlite_synchronous=_synchronous(label))
            )
            for label, url in urls
        }
        runs = [flowdesk_run(label, engines[label], rounds) for label, _ in urls]
        deep = _raw_run("raw SpiffWorkflow, iterator depth raised", rounds, deep=True)
        shipped = _raw_run("raw SpiffWorkflow as shipped", rounds, deep=False)
        runs += [deep, shipped]

        interleave(runs, window)
        for loop in runs:
            _finish(loop, rounds)
        for loop, (_label, url) in zip(runs, urls, strict=False):
            loop.state_bytes = _state_bytes(url)
        sql_count, sql_seconds = _sql_per_completion(runs[0], window)
    floors = [
        ("floor: one durable commit, SQLite file (WAL)", _sqlite_commit(workdir, "FULL")),
        (
            "floor: one commit, SQLite file (WAL, synchronous=NORMAL)",
            _sqlite_commit(workdir, "NORMAL"),
        ),
    ]
    if pg_url:
        floors.append(("floor: one durable commit, PostgreSQL", _pg_commit(pg_url)))
    return _section(runs, floors, rounds, window, sql_count, sql_seconds)


def interleave(runs: list[LoopRun], window: int) -> None:
    """Bring each run's late instance to its window untimed, then time the early and the late
    window of every run, one completion each in turn, the order turning by one run every
    round (see the module docstring)."""
    for loop in runs:
        for current in range(1, loop.last_round - window + 1):
            if loop.late_step(current) is None:
                loop.stopped_at = current
                break
    for offset in range(window):
        for loop in runs[offset % len(runs) :] + runs[: offset % len(runs)]:
            late_round = loop.last_round - window + 1 + offset
            cpu = time.process_time()
            early = loop.early_step(offset + 1)  # far below any round where Spiff stops
            if early is not None:
                loop.early.append(early)
                loop.early_cpu.append(time.process_time() - cpu)
            if loop.stopped_at is not None:
                continue  # a late instance that stopped has no late window
            late = loop.late_step(late_round)
            if late is None:
                loop.stopped_at = late_round
            else:
                loop.late.append(late)


def _synchronous(label: str) -> SqliteSynchronous:
    return "NORMAL" if label == NORMAL_SYNC_LABEL else "FULL"


def flowdesk_run(label: str, engine: Engine, rounds: int) -> LoopRun:
    """Two loop instances on `engine` (early and late), each step `tasks()` + `complete()`."""
    engine.deploy(MODEL)

    def stepper(instance_id: str) -> Step:
        def step(current: int) -> float | None:
            started = time.perf_counter()
            tasks = engine.tasks(instance_id=instance_id)
            if not tasks:
                return None
            engine.complete(tasks[0].id, {"round": current})
            return time.perf_counter() - started

        return step

    early, late = (engine.start(PROCESS, {"n": rounds + 1, "round": 0}).id for _ in range(2))

    def late_ended() -> bool:
        return engine.instance(late).state == "completed" and not engine.tasks(instance_id=late)

    return LoopRun(label, stepper(early), stepper(late), rounds, late_ended)


def _raw_run(label: str, rounds: int, *, deep: bool) -> LoopRun:
    process = raw_spiff.RawProcess(MODEL, PROCESS)
    # As shipped, its late window ends where it stops; the loop itself should go on.
    last_round = rounds if deep else min(rounds, RAW_LIMIT)

    def stepper(instance: raw_spiff.RawInstance) -> Step:
        def step(current: int) -> float | None:
            with raw_spiff.deep_iterators() if deep else contextlib.nullcontext():
                started = time.perf_counter()
                done = instance.complete_next({"round": current})
                elapsed = time.perf_counter() - started
            return elapsed if done else None

        return step

    early, late = (process.start({"n": rounds + 1, "round": 0}) for _ in range(2))
    return LoopRun(label, stepper(early), stepper(late), last_round, lambda: late.completed)


def _finish(loop: LoopRun, rounds: int) -> None:
    """Run the late instance on to the last round and one more, which must end it."""
    if loop.stopped_at is not None:
        return
    for current in range(loop.last_round + 1, rounds + 1):
        if loop.late_step(current) is None:
            loop.stopped_at = current
            return
    loop.ended_correctly = loop.late_step(rounds + 1) is not None and loop.late_ended()


def _state_bytes(url: str) -> tuple[int, int] | None:
    """Sizes of the two instances' stored workflow, read with SQL (flowdesk does not show it)."""
    if url == "sqlite://":  # a private in-memory database: not reachable from here
        return None
    database = create_engine(url)
    try:
        with database.connect() as connection:
            sizes = connection.execute(
                text(
                    "SELECT length(workflow_state) FROM instances "
                    "WHERE process_key = :key ORDER BY started_at"
                ),
                {"key": PROCESS},
            ).scalars()
            found = [int(size or 0) for size in sizes]
    finally:
        database.dispose()
    return (found[0], found[1]) if len(found) == 2 else None


def _sql_per_completion(loop: LoopRun, window: int) -> tuple[float, float]:
    """Statements and driver time per completion, counted on more rounds of the early
    instance (counting costs a little, so it stays out of the timed windows)."""
    with capture_sql(keep=False) as log:
        for current in range(window + 1, window + 1 + SQL_COUNTED_ROUNDS):
            loop.early_step(current)
    return log.count / SQL_COUNTED_ROUNDS, log.seconds / SQL_COUNTED_ROUNDS


def _sqlite_commit(workdir: Path, synchronous: str) -> float:
    """One one-row UPDATE committed the way flowdesk opens SQLite files (WAL, `synchronous`)."""
    url = sqlite_file_url(workdir, f"floor_{synchronous.lower()}")
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, value INTEGER)")
        connection.execute("INSERT INTO floor VALUES (1, 0)")
        times = []
        for value in range(FLOOR_COMMITS):
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE floor SET value = ? WHERE id = 1", (value,))
            connection.execute("COMMIT")
            times.append(time.perf_counter() - started)
        return median(times)
    finally:
        connection.close()


def _pg_commit(url: str) -> float:
    database = create_engine(url)
    try:
        with database.begin() as connection:
            connection.execute(text("CREATE TABLE bench_floor (id INT PRIMARY KEY, value INT)"))
            connection.execute(text("INSERT INTO bench_floor VALUES (1, 0)"))
        times = []
        with database.connect() as connection:
            for value in range(FLOOR_COMMITS):
                started = time.perf_counter()
                connection.execute(
                    text("UPDATE bench_floor SET value = :v WHERE id = 1"), {"v": value}
                )
                connection.commit()
                times.append(time.perf_counter() - started)
        return median(times)
    finally:
        database.dispose()


def _section(
    runs: list[LoopRun],
    floors: list[tuple[str, float]],
    rounds: int,
    window: int,
    sql_count: float,
    sql_seconds: float,
) -> Section:
    section = Section(
        f"(a) One completion in a two-step loop, early and after {rounds} rounds",
        ["run", "early (median)", "late (median)", "late/early", "rounds run", "stored state"],
        data={"rounds": rounds, "window": window},
    )
    for loop in runs:
        early, late = median(loop.early), median(loop.late)
        first_late = loop.last_round - window + 1
        if loop.stopped_at is not None:
            reached = f"stops: no open task at round {loop.stopped_at}"
        else:
            reached = f"{loop.last_round}" + (
                ", then ended correctly" if loop.ended_correctly else ", did NOT end correctly"
            )
        size = f"{loop.state_bytes[0]:,} B, {loop.state_bytes[1]:,} B" if loop.state_bytes else ""
        section.rows.append(
            [
                loop.label,
                f"{ms(early)} (rounds 1-{window})",
                f"{ms(late)} (rounds {first_late}-{loop.last_round})"
                if loop.late
                else "not reached",
                ratio(late, early) if loop.late else "",
                reached,
                size,
            ]
        )
        section.data[loop.label] = {
            "early_s": early,
            "late_s": late,
            "last_round": loop.last_round,
            "stopped_at": loop.stopped_at,
            "ended_correctly": loop.ended_correctly,
        }
    flowdesk, deep, shipped = runs[0], runs[-2], runs[-1]
    fd_early, fd_late = median(flowdesk.early), median(flowdesk.late)
    raw_early, raw_late = median(deep.early), median(deep.late)
    for label, seconds in floors:
        section.rows.append([label, ms(seconds), "", "", "", ""])
        section.data[label] = seconds
    complete = flowdesk.stopped_at is None and bool(flowdesk.ended_correctly)
    section.notes += [
        "Stored state: the serialized workflow of the early instance (after the early window "
        "and the SQL count below) and of the late one (after its last round).",
        "Overhead, flowdesk (SQLite file, every step committed) / raw SpiffWorkflow in "
        f"memory: early {ratio(fd_early, raw_early)}, late {ratio(fd_late, raw_late)} "
        f"(raw with raised depth); flowdesk late / raw as shipped at its last rounds "
        f"{ratio(fd_late, median(shipped.late))}. One durable commit alone is "
        + ", ".join(f"{ratio(seconds, raw_early)}" for _, seconds in floors)
        + " of a raw early completion.",
        _durability_note(runs, raw_early),
        f"flowdesk per completion (`tasks` + `complete`): {sql_count:.1f} SQL statements, "
        f"{ms(sql_seconds)} of it inside the database driver (commits not included).",
        verdict(
            fd_early <= MAX_OVERHEAD * raw_early,
            f"overhead at most {MAX_OVERHEAD:g}x raw SpiffWorkflow per completion (early)",
            ratio(fd_early, raw_early),
        ),
        verdict(
            fd_late <= MAX_OVERHEAD * raw_late,
            f"overhead at most {MAX_OVERHEAD:g}x raw SpiffWorkflow per completion (late)",
            ratio(fd_late, raw_late),
        ),
        verdict(
            complete and fd_late <= MAX_LATE_OVER_EARLY * fd_early,
            f"flowdesk late/early at most {MAX_LATE_OVER_EARLY:g}x, and the loop runs all "
            f"{rounds} rounds and then ends correctly",
            f"{ratio(fd_late, fd_early)}; " + section.rows[0][4],
        ),
    ]
    section.data["overhead_early"] = fd_early / raw_early
    section.data["overhead_late"] = fd_late / raw_late
    section.data["flowdesk_late_over_early"] = fd_late / fd_early
    return section


def _durability_note(runs: list[LoopRun], raw_early: float) -> str:
    """The SQLite file with every commit synced (FULL) against the WAL synced at checkpoints."""
    by_label = {loop.label: loop for loop in runs}
    full, normal = by_label["flowdesk, SQLite file"], by_label[NORMAL_SYNC_LABEL]
    # A synced commit costs more than its wait: on this virtual machine the process's own CPU
    # time per step rises too (docs/performance.md, "The targets"), so the CPU is shown.
    cpu = "; ".join(f"{loop.label} {ms(median(loop.early_cpu))}" for loop in runs)
    return (
        "SQLite file, `synchronous=NORMAL` against `FULL` (the default): early "
        f"{ms(median(normal.early))} against {ms(median(full.early))} "
        f"({ratio(median(normal.early), raw_early)} raw Spiff), late "
        f"{ms(median(normal.late))} against {ms(median(full.late))}. "
        f"CPU time of this process per early completion (median): {cpu}."
    )
