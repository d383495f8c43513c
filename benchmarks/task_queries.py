"""(c) `engine.tasks(...)` with few and with many instances in the database, and its plans.

For each database and size, the data is loaded fresh (`bulk_load`), then each common filter
is timed over several values that exist in the data (median of the calls, after one warm-up
call). The data grows the way an organisation does: more teams and reviewers as instances
grow, so one team's open tasks stay about as many; query time should then stay flat. One more
row asks for the tasks of the one "shipping" group, whose result does grow with the data.

At the largest size every SQL statement one `tasks()` call runs is captured and explained
(SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN ANALYZE`); a plan step that reads a whole
table or index is reported as a full scan.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import bulk_load
from benchmarks.databases import capture_sql, explain, fresh_pg, full_scans, sqlite_file_url
from benchmarks.report import Section, median, ms, verdict
from benchmarks.settings import Sizes
from flowdesk import Engine

FILTERS = ("candidate_group", "assignee", "instance_id", "business_key")
LARGE = "large"
SQLITE = "SQLite file"
SQLITE_ANALYZED = "SQLite file + ANALYZE"
LARGE_GROUP = "shipping"
LARGE_GROUP_CALLS = 3
MAX_GROWTH = 1.5


def run(sizes: Sizes, workdir: Path, pg: str | None) -> Section:
    """Time the filters at each size on SQLite (and PostgreSQL), and explain their queries."""
    backends: list[tuple[str, Callable[[int], str]]] = [
        (SQLITE, lambda n: sqlite_file_url(workdir, f"tasks_{n}")),
    ]
    if pg:
        backends.append(("PostgreSQL", lambda n: fresh_pg(pg)))
    header = ["database", "filter"]
    header += [f"{n:,} instances" for n in sizes.query_sizes]
    header.append(f"{sizes.query_sizes[-1]:,} / {sizes.query_sizes[0]:,}")
    section = Section("(c) `engine.tasks(...)` query time against database size", header)
    plans: list[str] = []
    scans: list[str] = []
    loads: list[str] = []
    # backend -> filter -> one (median seconds, tasks per call) per size
    timings: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for backend, make_url in backends:
        for size in sizes.query_sizes:
            url = make_url(size)
            started = time.perf_counter()
            probes = bulk_load.load(url, size)
            loads.append(f"{backend} {size:,}: {time.perf_counter() - started:.1f} s")
            largest = size == sizes.query_sizes[-1]
            variants = [(backend, False)]
            if backend == SQLITE:
                variants.append((SQLITE_ANALYZED, True))
            for label, analyze in variants:
                if analyze:
                    _analyze(url)
                with Engine(url, load_entry_points=False) as engine:
                    rng = random.Random(size)
                    measured = timings.setdefault(label, {})
                    for name in FILTERS:
                        values = _values(probes, name, rng, sizes.query_probes)
                        measured.setdefault(name, []).append(_time(engine, name, values))
                    if not analyze:
                        calls = [LARGE_GROUP] * LARGE_GROUP_CALLS
                        measured.setdefault(LARGE, []).append(
                            _time(engine, "candidate_group", calls)
                        )
                    if largest:
                        for name in FILTERS:
                            value = _values(probes, name, rng, 1)[0]
                            text, found = _explained(engine, url, label, size, name, value)
                            plans.append(text)
                            if not analyze:
                                scans += [f"{label} `{name}`: {line}" for line in found]
    flat = True
    for label, measured in timings.items():
        for name, points in measured.items():
            cells = [f"{ms(seconds)} ({count:.0f} tasks)" for seconds, count in points]
            growth = points[-1][0] / points[0][0]
            if name != LARGE and label != SQLITE_ANALYZED:
                flat = flat and growth <= MAX_GROWTH
            shown = f"candidate_group={LARGE_GROUP!r} (grows)" if name == LARGE else name
            section.rows.append([label, shown, *cells, f"{growth:.2f}x"])
            section.data[f"{label}/{name}"] = [seconds for seconds, _ in points]
    section.notes += [
        "Times are medians of `engine.tasks(...)` calls with different values that exist in "
        "the data (in brackets: tasks returned per call, on average); each call is one read "
        "transaction and includes building the `Task` records. "
        f'"{SQLITE_ANALYZED}" is the same SQLite file after `ANALYZE`, which flowdesk does '
        "not run: it shows what planner statistics change; the verdicts below are about "
        "flowdesk as it is.",
        verdict(
            flat,
            f"query time flat (largest / smallest size at most {MAX_GROWTH:g}x for the four "
            "filters)",
            ", ".join(
                f"{row[0]} {row[1]} {row[-1]}"
                for row in section.rows
                if "grows" not in str(row[1]) and row[0] != SQLITE_ANALYZED
            ),
        ),
        verdict(
            not scans,
            f"no full scans at {sizes.query_sizes[-1]:,} instances",
            "; ".join(scans) if scans else "every table access is an index search",
        ),
        "Bulk load times: " + ", ".join(loads) + ".",
        "```text\n" + "\n\n".join(plans) + "\n```",
    ]
    section.data["full_scans"] = scans
    return section


def _analyze(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _values(probes: bulk_load.Probes, name: str, rng: random.Random, count: int) -> list[str]:
    pool = {
        "candidate_group": probes.teams,
        "assignee": probes.users,
        "instance_id": probes.instance_ids,
        "business_key": probes.business_keys,
    }[name]
    return [rng.choice(pool) for _ in range(count)]


def _time(engine: Engine, name: str, values: list[str]) -> tuple[float, float]:
    """Median seconds per call and mean tasks returned, after one untimed warm-up call."""
    engine.tasks(**{name: values[0]})
    times, found = [], 0
    for value in values:
        started = time.perf_counter()
        found += len(engine.tasks(**{name: value}))
        times.append(time.perf_counter() - started)
    return median(times), found / len(values)


def _explained(
    engine: Engine, url: str, backend: str, size: int, name: str, value: Any
) -> tuple[str, list[str]]:
    with capture_sql() as log:
        engine.tasks(**{name: value})
    lines = [f"{backend}, {size:,} instances: tasks({name}={value!r})"]
    found: list[str] = []
    seen: set[str] = set()
    for statement, params in log.statements:
        if not statement.lstrip().upper().startswith("SELECT") or statement in seen:
            continue  # transaction control; a statement repeated per row is explained once
        seen.add(statement)
        plan = explain(url, statement, params)
        found += full_scans(plan)
        lines.append("  " + " ".join(statement.split())[:160] + " ...")
        lines += ["    " + line for line in plan]
    return "\n".join(lines), found
