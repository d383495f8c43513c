"""How big each benchmark runs: the full run, `--quick`, and `--smoke` (for the smoke test)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """The knobs of one run.

    Attributes:
        name: "full", "quick" or "smoke".
        loop_rounds: Rounds of the two-step loop (the late window ends here).
        loop_window: Completions per measuring window (early: the first ones; late: the last).
        throughput_seconds: How long each throughput measurement runs after warm-up.
        pg_workers: Worker-process counts measured on PostgreSQL.
        throughput_rounds: How often each PostgreSQL worker count is measured, interleaved.
        job_instances: Instances (three jobs each) the job workers drain per measurement.
        query_sizes: Instance counts in the database for the task-query benchmark.
        query_probes: Different filter values timed per filter and size.
    """

    name: str
    loop_rounds: int
    loop_window: int
    throughput_seconds: float
    pg_workers: tuple[int, ...]
    throughput_rounds: int
    job_instances: int
    query_sizes: tuple[int, ...]
    query_probes: int


FULL = Sizes("full", 1000, 50, 10.0, (1, 2, 4), 4, 100, (1_000, 100_000), 40)
QUICK = Sizes("quick", 300, 30, 3.0, (1, 2, 4), 3, 60, (1_000, 10_000), 15)
SMOKE = Sizes("smoke", 12, 3, 0.3, (1, 2), 1, 6, (40, 120), 3)
