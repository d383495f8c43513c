"""Script limits end a runaway or memory-hungry script as an incident, without stopping others.

A script task `while True: pass` (or a memory bomb) in one model must not freeze the engine:
it becomes an incident within the `Engine`'s `ScriptLimits`, and meanwhile another OS process
(`limits_driver.py`) keeps starting and completing instances on the same database. On SQLite
the runaway step holds the write lock for as long as it runs, so the other process's calls wait
for it; they must then succeed, not fail with "database is locked".
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import flowdesk

DRIVER = Path(__file__).with_name("limits_driver.py")
LIMITS = flowdesk.ScriptLimits(cpu_seconds=0.5, wall_seconds=1.5, memory_bytes=64 * 1024 * 1024)
# Generous: the machine running the suite may be busy, and the driver must wait for the lock.
SLACK_SECONDS = 4.0

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="t">
"""

QUICK = """  <bpmn:process id="quick" isExecutable="true">
    <bpmn:startEvent id="QS" />
    <bpmn:sequenceFlow id="q1" sourceRef="QS" targetRef="Check" />
    <bpmn:scriptTask id="Check" scriptFormat="python">
      <bpmn:script>checked = sum(i for i in range(10))</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="q2" sourceRef="Check" targetRef="Work" />
    <bpmn:userTask id="Work" camunda:assignee="alice" />
    <bpmn:sequenceFlow id="q3" sourceRef="Work" targetRef="QE" />
    <bpmn:endEvent id="QE" />
  </bpmn:process>
"""


def hostile(script: str, script_format: str) -> str:
    return f"""  <bpmn:process id="hostile" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Bomb" />
    <bpmn:scriptTask id="Bomb" scriptFormat="{script_format}">
      <bpmn:script><![CDATA[{script}]]></bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="Bomb" targetRef="After" />
    <bpmn:userTask id="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="E" />
    <bpmn:endEvent id="E" />
  </bpmn:process>
"""


def deploy(engine: flowdesk.Engine, tmp_path: Path, *processes: str) -> None:
    path = tmp_path / "limits.bpmn"
    path.write_text(HEAD + "".join(processes) + "</bpmn:definitions>\n", encoding="utf-8")
    engine.deploy(path)


def rounds(progress: Path) -> list[tuple[float, float]]:
    if not progress.exists():
        return []
    lines = progress.read_text(encoding="utf-8").splitlines()
    return [(float(a), float(b)) for a, b in (line.split() for line in lines if line.strip())]


def wait_for_rounds(progress: Path, count: int, driver: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(rounds(progress)) < count:
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "the driver process made no progress"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("script_format", "script", "kind"),
    [
        pytest.param("python", "while True:\n    pass", "time", id="python-runaway"),
        pytest.param("python", "x = [0] * 10**8", "memory", id="python-memory-bomb"),
        pytest.param(
            "python",
            "x = []\nwhile True:\n    x.append('y' * 1000)",
            "memory",
            id="python-growing-list",
        ),
        pytest.param("javascript", "while (true) {}", "time", id="javascript-runaway"),
        pytest.param(
            "javascript",
            "var x = new Array(1e8).fill(0);",
            "memory",
            id="javascript-memory-bomb",
        ),
    ],
)
def test_a_hostile_script_becomes_an_incident_within_the_limit_while_another_process_works(
    make_engine: Callable[..., flowdesk.Engine],
    db_url: str,
    tmp_path: Path,
    script_format: str,
    script: str,
    kind: str,
) -> None:
    engine = make_engine(script_limits=LIMITS)
    deploy(engine, tmp_path, QUICK, hostile(script, script_format))
    progress, stop = tmp_path / "progress", tmp_path / "stop"
    driver = subprocess.Popen(
        [sys.executable, str(DRIVER), db_url, str(progress), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_rounds(progress, 2, driver)  # the other process is working

        began = time.time()
        instance = engine.start("hostile")
        ended = time.time()

        wait_for_rounds(progress, len(rounds(progress)) + 2, driver)  # and still works
    finally:
        stop.touch()
        out, err = driver.communicate(timeout=120)
    assert driver.returncode == 0, err
    report = json.loads(out)

    assert instance.state == "incident"
    assert instance.incident is not None
    assert "ScriptLimitError" in instance.incident
    expected = "memory limit of 64 MiB" if kind == "memory" else "time limit of"
    assert expected in instance.incident
    assert ended - began < LIMITS.wall_seconds + SLACK_SECONDS
    assert engine.tasks(instance_id=instance.id) == []
    # The other process lost nothing and met no error; some of its calls ran while the
    # hostile script did (and waited for it, on SQLite).
    assert report["errors"] == []
    assert any(start < ended and end > began for start, end in rounds(progress))
    finished = {i.id: i.state for i in engine.instances(key="quick")}
    assert sorted(finished) == sorted(report["started"])
    assert set(finished.values()) == {"completed"}


def test_a_script_stopped_at_the_limit_is_a_retryable_incident(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    engine = make_engine(script_limits=LIMITS)
    deploy(engine, tmp_path, hostile("n = 0\nwhile n < limit:\n    n += 1", "python"))

    instance = engine.start("hostile", {"limit": 10**12})
    assert instance.state == "incident"
    assert "time limit" in (instance.incident or "")

    # A fresh engine with more room retries the step; with a reachable bound the script ends.
    roomy = make_engine()
    retried = roomy.retry(instance.id)
    assert retried.state == "incident"  # still 10**12 steps: over the default limit as well
    assert "time limit of 2 s of CPU time" in (retried.incident or "") or "4 s elapsed" in (
        retried.incident or ""
    )


def test_the_limits_are_per_engine(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    # An allocation over the limit is refused before it is made, whatever the machine's speed
    # (a loop against a CPU limit is not: a fast moment finished 200,000 rounds in 0.05 s).
    tight = make_engine(script_limits=flowdesk.ScriptLimits(memory_bytes=1024 * 1024))
    deploy(tight, tmp_path, hostile("text = 'x' * (4 * 1024 * 1024)", "python"))
    roomy = make_engine()

    assert roomy.start("hostile").state == "running"
    stopped = tight.start("hostile")
    assert stopped.state == "incident"
    assert "memory limit of 1 MiB" in (stopped.incident or "")


@pytest.mark.parametrize(
    ("language", "expression", "reason"),
    [
        pytest.param("", "sum(range(10**12)) > 0", "time limit", id="python-c-loop"),
        pytest.param("", "len('x' * 10**10) > 0", "memory limit", id="python-repetition"),
        pytest.param(
            ' language="feel"',
            "count(for i in 1..10000000000 return i) > 0",
            "memory limit",
            id="feel-range",
        ),
        pytest.param(
            ' language="feel"',
            "count(for i in 1..1000000, j in 1..1000000 return 1) > 0",
            "limit",
            id="feel-nested-loop",
        ),
        pytest.param(' language="feel"', "2 ** 100000000 > 0", "bits", id="feel-power"),
        pytest.param(
            ' language="javascript"',
            "var a = [1]; while (true) { a = a.concat(a); } true",
            "limit",
            id="javascript-doubling",
        ),
    ],
)
def test_a_condition_over_the_limit_is_an_incident_at_the_gateway(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    language: str,
    expression: str,
    reason: str,
) -> None:
    engine = make_engine(script_limits=LIMITS)
    gateway = f"""  <bpmn:process id="gate" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="G" />
    <bpmn:exclusiveGateway id="G" default="no" />
    <bpmn:sequenceFlow id="yes" sourceRef="G" targetRef="E">
      <bpmn:conditionExpression{language}>{expression}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="G" targetRef="E" />
    <bpmn:endEvent id="E" />
  </bpmn:process>
"""
    deploy(engine, tmp_path, gateway)

    started = time.monotonic()
    instance = engine.start("gate")

    assert instance.state == "incident"
    assert reason in (instance.incident or "")
    assert time.monotonic() - started < LIMITS.wall_seconds + SLACK_SECONDS
