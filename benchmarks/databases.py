"""Scratch databases for the benchmarks, SQL capture, and EXPLAIN with a full-scan check."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url


def sqlite_file_url(workdir: Path, name: str) -> str:
    """A new, empty SQLite file database in `workdir` (any old one of that name is removed)."""
    path = workdir / f"{name}.db"
    for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def pg_url(url: str) -> str:
    """The URL with psycopg 3 as driver, as flowdesk's store normalises it."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def ensure_pg(url: str) -> str:
    """Create the benchmark database if it is missing; returns its URL (psycopg 3 driver).

    The benchmarks drop every table in it, so they refuse a database whose name does not
    say "bench": the dev server's `postgres` database belongs to the test suite.

    Raises:
        SystemExit: The database name does not contain "bench".
    """
    url = pg_url(url)
    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(
            f"refusing to use PostgreSQL database {name!r}: benchmarks drop every table, "
            "so give them their own database, e.g. .../flowdesk_bench (created if missing)"
        )
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()
    return url


def fresh_pg(url: str) -> str:
    """The benchmark database (see `ensure_pg`), emptied: every table dropped."""
    url = ensure_pg(url)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


@dataclass
class SqlLog:
    """Statements seen by every SQLAlchemy engine in this process while capturing."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    count: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def capture_sql(keep: bool = True) -> Iterator[SqlLog]:
    """Record the statements (and the time the database spent on them) while the block runs.

    It listens on the `Engine` class, so it sees flowdesk's store without reaching into it.
    """
    log = SqlLog()
    started: list[float] = []

    def before(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if keep and not many:
            log.statements.append((statement, params))
        started.append(time.perf_counter())

    def after(*_args: Any) -> None:
        log.count += 1
        log.seconds += time.perf_counter() - started.pop()

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield log
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)


def explain(url: str, statement: str, params: Any) -> list[str]:
    """The plan of one captured statement: SQLite `EXPLAIN QUERY PLAN`, PostgreSQL
    `EXPLAIN ANALYZE` (it runs the query)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                depth: dict[int, int] = {0: -1}
                lines = []
                for node, parent, _unused, detail in rows:
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node] + str(detail))
                return lines
            rows = connection.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", params).all()
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def full_scans(plan: list[str]) -> list[str]:
    """The plan lines that read a whole table, a whole index, or every open task.

    SQLite: `SCAN t` (also `SCAN t USING INDEX i`, which walks all of i); `SEARCH` is a seek,
    except one on `state` alone. PostgreSQL: `Seq Scan`, or an index condition on `state`
    alone. A task's state has a handful of values, so seeking `state = 'open'` reads every
    open task in the database: a scan that grows with the data, whatever the plan calls it.
    """
    found = []
    for line in plan:
        stripped = line.strip().lstrip("->").strip()
        if stripped.startswith("SCAN ") and "CONSTANT ROW" not in stripped:
            found.append(stripped)
        elif stripped.startswith("SEARCH ") and stripped.endswith("(state=?)"):
            found.append(f"{stripped}: every open task")
        elif stripped.startswith("Seq Scan"):
            found.append(stripped)
        elif stripped.startswith("Index Cond:") and _only_state(stripped):
            found.append(f"{stripped}: every open task")
    return found


def _only_state(condition: str) -> bool:
    return "state" in condition and " AND " not in condition and "= ANY" not in condition
