"""A worker process for tests/cli/test_worker_takeover.py that stalls inside its job.

Run as `python stalling_worker.py DB_URL NOW BARRIER LEASE_SECONDS`: one worker pass on a clock
standing at NOW (ISO 8601), whose service tasks (`paymentGateway`, `Reminder`) create the file
BARRIER and then sleep, so the job stays leased, uncommitted, until the test kills the process.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import flowdesk
from flowdesk.worker import run_worker


def main(url: str, now: str, barrier: str, lease_seconds: str) -> None:
    at = datetime.fromisoformat(now)

    def stall(call: flowdesk.ServiceCall) -> None:
        ready = Path(f"{barrier}.tmp")
        ready.write_text(call.element_id)
        ready.rename(barrier)  # atomic: the test never reads a half-written file
        time.sleep(120)  # the test kills the process long before

    engine = flowdesk.Engine(url, clock=lambda: at, load_entry_points=False)
    engine.handlers.register_service("paymentGateway", stall)
    engine.handlers.register_service("Reminder", stall)
    run_worker(engine, once=True, lease=timedelta(seconds=float(lease_seconds)))


if __name__ == "__main__":
    main(*sys.argv[1:])
