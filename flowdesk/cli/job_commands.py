"""Commands that fire due timers and jobs: once (`jobs`) or until stopped (`worker`)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from flowdesk import worker as flowdesk_worker
from flowdesk.cli.options import Settings, _command
from flowdesk.cli.output import _count, _jobs_table, _print_json

logger = logging.getLogger("flowdesk.worker")


@_command()
@click.option("--list", "list_only", is_flag=True, help="Only list waiting jobs; fire none.")
@click.pass_obj
def jobs(settings: Settings, list_only: bool) -> None:
    """Fire the due timers and jobs once.

    Runs every timer and job due now and prints how many fired.
    """
    engine = settings.engine()
    if list_only:
        waiting = engine.jobs()
        if settings.json:
            _print_json(waiting)
        elif not waiting:
            click.echo("No waiting jobs.")
        else:
            click.echo(_jobs_table(waiting))
        return
    fired = engine.run_due_jobs()
    if settings.json:
        _print_json({"fired": fired})
    else:
        click.echo(f"{_count(fired, 'job')} fired.")


@_command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=flowdesk_worker.DEFAULT_INTERVAL,
    show_default=True,
    metavar="SECONDS",
    help="Pause between passes.",
)
@click.option("--once", is_flag=True, help="Run one pass and stop.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Level of the flowdesk.worker and flowdesk.jobs logs (stderr).",
)
@click.pass_obj
def worker(settings: Settings, interval: float, once: bool, log_level: str) -> None:
    """Fire due timers and jobs until stopped.

    Runs passes of due jobs until SIGTERM or Ctrl-C (SIGINT).
    Each fired timer is logged (logger flowdesk.jobs), each pass that fired any too
    (flowdesk.worker; every pass at DEBUG). A signal stops the worker between passes (a pass
    in progress finishes first) and it exits 0. A pass that fails is logged and retried
    after the interval; with --once, its error ends the command.
    """
    _configure_logging(log_level)
    engine = settings.engine()
    stop = threading.Event()
    with _stop_on_signals(stop):
        result = flowdesk_worker.run_worker(engine, interval=interval, stop=stop, once=once)
    if settings.json:
        _print_json({"passes": result.passes, "fired": result.fired})
    else:
        click.echo(
            f"Worker stopped after {_count(result.passes, 'pass')}; "
            f"{_count(result.fired, 'job')} fired."
        )


# -- helpers for worker -------------------------------------------------------------------------


def _configure_logging(level: str = "INFO") -> None:
    """Log flowdesk's worker and jobs to stderr unless the application configured logging."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("flowdesk").setLevel(level.upper())


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM and SIGINT while inside; the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install signal handlers
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("got %s, stopping after this pass", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
