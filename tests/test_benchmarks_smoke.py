"""The benchmark command still runs end to end (smallest sizes, SQLite only).

Benchmarks are not tests: nothing here looks at a timing. This only keeps `python -m
benchmarks` from rotting as the engine changes: every benchmark runs, prints its table, and
the loop it drives through flowdesk goes round and ends as the model says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def test_benchmarks__smoke_run_prints_every_section(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWDESK_BENCH_PG", "FLOWDESK_DB")}

    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(results)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    for title in (
        "### (a) One completion",
        "### (b) Start + complete",
        "### (c) `engine.tasks",
        "### (d) Another Python engine",
        "### (e) Job workers on PostgreSQL",
    ):
        assert title in run.stdout
    figures = json.loads(results.read_text())
    loop = figures["loop"]["flowdesk, SQLite file"]
    assert loop["stopped_at"] is None
    assert loop["ended_correctly"] is True
    assert figures["throughput"]["sqlite"] > 0
    assert figures["throughput"]["sqlite_memory"] > 0  # its worker deployed the model itself
    assert "SQLite file/instance_id" in figures["queries"]
