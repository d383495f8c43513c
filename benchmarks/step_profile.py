"""Where the time of one user-task step goes: a cProfile of the loop, split by layer.

Usage, from the repository root::

    python -m benchmarks.step_profile                  # SQLite file, 400 completions
    python -m benchmarks.step_profile --rounds 1000 --url postgresql+psycopg://.../flowdesk_bench
    python -m benchmarks.step_profile --statements     # also print one step's SQL

One step is what the loop benchmark times: `tasks(instance_id=...)` and then
`complete(task, {"round": r})` on `models/loop.bpmn`. The profile's own time of every function
goes to one layer: flowdesk, SpiffWorkflow, SQLAlchemy, the database driver, the commit, and
"Python runtime" for what none of them is. A function of the standard library (json, copy,
uuid, ...) is charged to the layer that called it, split by its callers' shares, so that
`copy.deepcopy` inside Spiff counts as Spiff. cProfile slows Python code more than C code, so
the shares are a guide to where the time goes, not a measurement of it; the wall time per step
is measured separately, without the profiler.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/step_profile.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.databases import capture_sql, fresh_pg, sqlite_file_url
from flowdesk import Engine

MODEL = Path(__file__).parent / "models" / "loop.bpmn"
LAYERS = (
    "flowdesk",
    "SpiffWorkflow",
    "SQLAlchemy",
    "driver (statements)",
    "commit",
    "Python runtime",
)
_Func = tuple[str, int, str]


def layer_of(func: _Func) -> str | None:
    """The layer a profiled function belongs to; None for the standard library and builtins
    that are charged to their callers."""
    filename, _line, name = func
    if "/flowdesk/" in filename:
        return "flowdesk"
    if "/SpiffWorkflow/" in filename:
        return "SpiffWorkflow"
    if "/sqlalchemy/" in filename or "/alembic/" in filename:
        return "SQLAlchemy"
    if "sqlite3.Connection" in name or "sqlite3.Cursor" in name or "/psycopg" in filename:
        return "commit" if "commit" in name else "driver (statements)"
    if "psycopg" in name:
        return "commit" if "commit" in name else "driver (statements)"
    return None


def split_by_layer(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per layer; library time goes to its callers' layers."""
    raw: dict[_Func, Any] = stats.stats  # type: ignore[attr-defined]
    shares: dict[_Func, dict[str, float]] = {}

    def share(func: _Func, depth: int) -> dict[str, float]:
        """Fractions of `func`'s time per layer (sums to 1)."""
        if func in shares:
            return shares[func]
        own = layer_of(func)
        if own is not None:
            return {own: 1.0}
        callers = raw.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(entry[2] for entry in callers.values())
        if depth > 30 or not callers or total <= 0:
            return {"Python runtime": 1.0}
        shares[func] = {"Python runtime": 1.0}  # a cycle back here counts as runtime
        mixed: dict[str, float] = defaultdict(float)
        for caller, entry in callers.items():
            weight = entry[2] / total
            for layer, part in share(caller, depth + 1).items():
                mixed[layer] += weight * part
        shares[func] = dict(mixed)
        return shares[func]

    seconds: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tottime, _ct, _callers) in raw.items():
        for layer, part in share(func, 0).items():
            seconds[layer] += tottime * part
    return dict(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop, print wall time and SQL per step, then the profile split by layer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--rounds", type=int, default=400, help="profiled steps (default 400)")
    parser.add_argument("--statements", action="store_true", help="print one step's SQL")
    parser.add_argument("--top", type=int, default=0, help="also print the N costliest functions")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowdesk-profile-") as scratch:
        url = args.url or sqlite_file_url(Path(scratch), "profile")
        if url.startswith("postgresql"):
            url = fresh_pg(url)
        with Engine(url, load_entry_points=False) as engine:
            engine.deploy(MODEL)
            total = 3 * args.rounds + 40
            instance = engine.start("loop", {"n": total, "round": 0}).id
            current = 0

            def step() -> None:
                nonlocal current
                current += 1
                task = engine.tasks(instance_id=instance)[0]
                engine.complete(task.id, {"round": current})

            for _ in range(20):  # warm-up: parse caches, connections
                step()
            walls, cpus = [], []
            for _ in range(args.rounds):
                started, cpu = time.perf_counter(), time.process_time()
                step()
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
            with capture_sql(keep=True) as log:
                step()
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.rounds):
                step()
            profile.disable()
    print(f"database: {url.split(':')[0]}")
    print(
        f"wall time per step, median of {args.rounds} (no profiler): "
        f"{statistics.median(walls) * 1000:.2f} ms"
    )
    print(f"CPU time of this process per step, mean: {statistics.mean(cpus) * 1000:.2f} ms")
    print(f"SQL statements per step: {log.count} (BEGIN on SQLite is not among them)")
    if args.statements:
        for sql, _params in log.statements:
            print("   ", " ".join(sql.split())[:150])
    stats = pstats.Stats(profile)
    layers = split_by_layer(stats)
    whole = sum(layers.values())
    print(f"\nprofiled: {whole / args.rounds * 1000:.2f} ms per step\n")
    print("| layer | share | ms per step (profiled) |\n| --- | --- | --- |")
    for layer in LAYERS:
        part = layers.get(layer, 0.0)
        print(f"| {layer} | {part / whole:.0%} | {part / args.rounds * 1000:.2f} |")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
