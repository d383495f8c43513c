"""The machine a run measured: read programmatically, printed with the results."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, text


def describe(pg_url: str | None) -> list[tuple[str, str]]:
    """CPU, cores, RAM, load, Python, SQLite, PostgreSQL and library versions, as rows."""
    rows = [
        ("CPU", _cpu_model()),
        ("cores (os.cpu_count)", str(os.cpu_count())),
        ("RAM", _memory()),
        ("load average at start (1/5/15 min)", load_average()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite", f"{sqlite3.sqlite_version} ({_sqlite_durability()})"),
        ("PostgreSQL", _postgres_version(pg_url) if pg_url else "not measured (no --pg)"),
    ]
    for package in ("flowdesk", "SpiffWorkflow", "SQLAlchemy", "psycopg"):
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared with other work)."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory() -> str:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _sqlite_durability() -> str:
    # flowdesk switches files to WAL and sets `synchronous` from `Engine(sqlite_synchronous=)`.
    return "files in WAL mode, synchronous=FULL (the default) unless a row says NORMAL"


def _postgres_version(url: str) -> str:
    """The server version and the settings that decide what a commit costs."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
            settings = [
                f"{name}={connection.execute(text(f'SHOW {name}')).scalar_one()}"
                for name in ("fsync", "synchronous_commit", "shared_buffers")
            ]
            return f"{version} ({', '.join(settings)}; same machine)"
    finally:
        engine.dispose()
