"""Run the benchmarks and print the results as Markdown (see docs/performance.md).

Usage, from the repository root::

    python -m benchmarks                  # full run: 1,000 loop rounds, 100,000 instances
    python -m benchmarks --quick          # a short run (300 rounds, 10,000 instances)
    python -m benchmarks --pg postgresql+psycopg://postgres@127.0.0.1:55432/flowdesk_bench
    python -m benchmarks --camunda-python ~/cp312/bin/python   # also camunda-python, (d)

The PostgreSQL parts run when `--pg` or `FLOWDESK_BENCH_PG` names a database whose name
contains "bench"; it is created if missing and emptied before each part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import job_workers, loop_cost, machine, other_engine, task_queries, throughput
from benchmarks.databases import ensure_pg
from benchmarks.report import Section
from benchmarks.settings import FULL, QUICK, SMOKE, Sizes

Benchmark = Callable[[Sizes, Path, "str | None"], Section]
BENCHMARKS: dict[str, Benchmark] = {
    "loop": loop_cost.run,
    "throughput": throughput.run,
    "queries": task_queries.run,
    "engines": other_engine.run,
    "jobs": job_workers.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the chosen benchmarks, print everything; 0 on success."""
    args = _parser().parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    pg = args.pg or os.environ.get("FLOWDESK_BENCH_PG") or None
    if args.camunda_python:
        os.environ[other_engine.INTERPRETER_ENV] = args.camunda_python
    if pg:
        pg = ensure_pg(pg)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; pick from {list(BENCHMARKS)}")

    _print(f"# flowdesk benchmarks ({sizes.name} run)\n")
    _print("| machine | |\n| --- | --- |")
    for name, value in machine.describe(pg):
        _print(f"| {name} | {value} |")
    _print("")
    results: dict[str, object] = {"sizes": sizes.name}
    with tempfile.TemporaryDirectory(prefix="flowdesk-bench-") as scratch:
        workdir = Path(args.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            started = time.perf_counter()
            section = BENCHMARKS[name](sizes, workdir, pg)
            section.notes.append(
                f"_{name}: {time.perf_counter() - started:.0f} s; "
                f"load average after it: {machine.load_average()}_"
            )
            _print(section.render())
            results[name] = section.data
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run the flowdesk benchmarks."
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    size.add_argument("--smoke", action="store_true", help="the smallest sizes (smoke test)")
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="PostgreSQL database for the PostgreSQL parts "
        "(its name must contain 'bench'); default: FLOWDESK_BENCH_PG",
    )
    parser.add_argument(
        "--only", metavar="NAMES", help=f"comma-separated subset of {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--camunda-python",
        metavar="PYTHON",
        help="a Python (3.12+) with camunda-python installed, for benchmark (d); default: "
        f"{other_engine.INTERPRETER_ENV}, else this Python if it has it, else (d) is skipped",
    )
    parser.add_argument("--workdir", metavar="DIR", help="keep the SQLite files here")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    return parser


def _print(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
