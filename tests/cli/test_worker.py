"""`flowdesk worker` fires due timers until a signal stops it, gracefully and with exit code 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import flowdesk
from flowdesk.worker import run_worker

LONG_AGO = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
# A timer start event whose date has passed: its job is due at once, on any clock.
OVERDUE_START = HEADER + (
    '  <bpmn:process id="overdue_start" isExecutable="true">\n'
    '    <bpmn:startEvent id="Start_due">\n'
    "      <bpmn:timerEventDefinition>\n"
    "        <bpmn:timeDate>2020-01-01T00:00:00Z</bpmn:timeDate>\n"
    "      </bpmn:timerEventDefinition>\n"
    "    </bpmn:startEvent>\n"
    '    <bpmn:endEvent id="End" />\n'
    '    <bpmn:sequenceFlow id="F1" sourceRef="Start_due" targetRef="End" />\n'
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n"
)
# An hour's wait: started on a clock in 2020, the timer is long due on the real one.
HOUR_WAIT = HEADER + (
    '  <bpmn:process id="hour_wait" isExecutable="true">\n'
    '    <bpmn:startEvent id="Start" />\n'
    '    <bpmn:intermediateCatchEvent id="Timer_hour">\n'
    "      <bpmn:timerEventDefinition>\n"
    '        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>\n'
    "      </bpmn:timerEventDefinition>\n"
    "    </bpmn:intermediateCatchEvent>\n"
    '    <bpmn:endEvent id="End" />\n'
    '    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Timer_hour" />\n'
    '    <bpmn:sequenceFlow id="F2" sourceRef="Timer_hour" targetRef="End" />\n'
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n"
)


QUIET = ("--log-level", "WARNING")


@pytest.fixture
def due_work(db_url: str, tmp_path: Path) -> str:
    """A database with a due timer start job and an instance waiting for a due timer."""
    (tmp_path / "overdue_start.bpmn").write_text(OVERDUE_START)
    (tmp_path / "hour_wait.bpmn").write_text(HOUR_WAIT)
    with flowdesk.Engine(db_url, clock=lambda: LONG_AGO, load_entry_points=False) as engine:
        engine.deploy(tmp_path)
        return engine.start("hour_wait").id


def spawn_worker(db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowdesk", "--db", db_url, "worker", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_done(db_url: str, instance_id: str, worker: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        while time.monotonic() < deadline and worker.poll() is None:
            started = engine.instances(key="overdue_start")
            if engine.instance(instance_id).state == "completed" and started:
                return
            time.sleep(0.1)
    worker.kill()
    pytest.fail(f"the worker did not fire the timers: {worker.communicate()}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_worker__fires_due_timers_and_stops_on_a_signal_with_exit_code_0(
    db_url: str, due_work: str, stop_signal: signal.Signals
) -> None:
    worker = spawn_worker(db_url)
    wait_until_done(db_url, due_work, worker)

    worker.send_signal(stop_signal)
    stdout, stderr = worker.communicate(timeout=30)

    assert worker.returncode == 0, stderr
    assert f"fired timer Timer_hour of instance {due_work}" in stderr
    assert "fired timer start event Start_due of overdue_start v1" in stderr
    assert f"got {stop_signal.name}, stopping after this pass" in stderr
    assert "worker stopped after" in stderr
    assert "Worker stopped after" in stdout
    assert "Traceback" not in stderr


def test_worker__log_level_warning_keeps_it_quiet(db_url: str, due_work: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowdesk", "--db", db_url, "worker", "--once", *QUIET],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Worker stopped after 1 pass; 2 jobs fired." in result.stdout


# -- the loop itself, in-process with the engine's clock ------------------------------------------


class StopWhenIdle(threading.Event):
    """Stops the worker the first time it would pause between passes."""

    def wait(self, timeout: float | None = None) -> bool:
        self.set()
        return True


def test_run_worker__runs_passes_back_to_back_while_batches_are_full(
    db_url: str, due_work: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="flowdesk")
    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        result = run_worker(engine, stop=StopWhenIdle(), batch=1, interval=60)
        assert engine.instance(due_work).state == "completed"
    # Two full passes of one job each, then an empty one before the pause that stops it.
    assert (result.passes, result.fired) == (3, 2)
    assert "pass 1: 1 job(s) fired" in caplog.messages
    assert "worker stopped after 3 pass(es)" in caplog.messages


def test_run_worker__fires_only_what_is_due_on_the_engines_clock(
    db_url: str, due_work: str
) -> None:
    with flowdesk.Engine(db_url, clock=lambda: LONG_AGO, load_entry_points=False) as engine:
        result = run_worker(engine, once=True)
        # 09:00 on 1 January 2020: the start timer (midnight) is due, the hour's wait is not.
        assert (result.passes, result.fired) == (1, 1)
        assert engine.instance(due_work).state == "running"
        assert len(engine.instances(key="overdue_start")) == 1


def test_run_worker__a_stop_set_before_it_starts_runs_no_pass(db_url: str) -> None:
    stop = threading.Event()
    stop.set()
    with flowdesk.Engine(db_url, load_entry_points=False) as engine:
        assert run_worker(engine, stop=stop).passes == 0


def test_run_worker__refuses_a_non_positive_interval(db_url: str) -> None:
    with flowdesk.Engine(db_url, load_entry_points=False) as engine, pytest.raises(ValueError):
        run_worker(engine, interval=0)
