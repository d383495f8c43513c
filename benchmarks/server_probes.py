"""What else used the machine while workers ran: database server CPU, machine CPU, PG waits.

On a 2-core machine shared with other work, "throughput does not grow with workers" has three
possible causes, and these probes tell them apart:

- **CPU**: `/proc/stat` gives how busy all cores were; `/proc/<pid>/stat` gives the CPU time
  of the PostgreSQL backends that served the benchmark's database (found in
  `pg_stat_activity`). Both need the server on this machine (Linux); otherwise they are None.
- **Waits**: `pg_stat_activity` sampled every `SAMPLE_SECONDS` during the window. Each sample
  of each backend is counted by what it was doing: running a statement on the CPU, waiting
  on a lock, on an LWLock or I/O, inside a transaction waiting for its client (the worker is
  computing), or idle between transactions (the worker is computing, or waiting for a core).
"""

from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

SAMPLE_SECONDS = 0.05
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all cores since boot, from `/proc/stat`; None elsewhere."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return (total - idle) / _TICKS, total / _TICKS


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process, or None if it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class ServerProbe:
    """Samples one PostgreSQL database's backends from a thread of its own.

    `start()` after the workers connected, `stop()` when their window ended; then read
    `server_cpu`, `machine_busy` and `waits`.
    """

    url: str
    server_cpu: float | None = None
    machine_busy: float | None = None  # cores busy, averaged over the window
    waits: collections.Counter[str] = field(default_factory=collections.Counter)
    _database: str = ""
    _connection: psycopg.Connection | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu_at_start: dict[int, float] = field(default_factory=dict)
    _machine_at_start: tuple[float, float] | None = None

    def start(self) -> None:
        parsed = make_url(self.url)
        self._database = parsed.database or ""
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection = psycopg.connect(conninfo, autocommit=True)
        self._machine_at_start = machine_cpu()
        self._cpu_at_start = self._backend_cpu()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        machine = machine_cpu()
        if machine is not None and self._machine_at_start is not None:
            busy = machine[0] - self._machine_at_start[0]
            total = machine[1] - self._machine_at_start[1]
            cores = os.cpu_count() or 1
            self.machine_busy = cores * busy / total if total else None
        at_end = self._backend_cpu()
        if at_end:
            # A backend that appeared during the window started from zero.
            self.server_cpu = sum(
                cpu - self._cpu_at_start.get(pid, 0.0) for pid, cpu in at_end.items()
            )
        if self._connection is not None:
            self._connection.close()

    def _backends(self) -> list[tuple[int, str | None, str | None, str | None]]:
        assert self._connection is not None
        rows = self._connection.execute(
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            (self._database,),
        ).fetchall()
        return [(int(pid), state, kind, event) for pid, state, kind, event in rows]

    def _backend_cpu(self) -> dict[int, float]:
        found = {}
        for pid, *_ in self._backends():
            cpu = process_cpu(pid)
            if cpu is not None:
                found[pid] = cpu
        return found

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            for _pid, state, kind, event in self._backends():
                self.waits[_classify(state, kind, event)] += 1


def _classify(state: str | None, kind: str | None, event: str | None) -> str:
    if state == "idle":
        return "idle between transactions"
    if state == "idle in transaction":
        return "in a transaction, waiting for the worker"
    if state == "active" and kind is None:
        return "running a statement (CPU)"
    if kind == "Lock":
        return f"waiting on a lock ({event})"
    return f"waiting: {kind}/{event}"
