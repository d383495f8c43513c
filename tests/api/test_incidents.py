"""A failing service task, script or condition is an incident; retry after a fix carries on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA

import flowdesk


class Scorer:
    """A scoring service that fails until it is fixed, as a flaky remote one would."""

    def __init__(self) -> None:
        self.score: object = None
        self.calls = 0

    def __call__(self, call: flowdesk.ServiceCall) -> dict[str, object]:
        self.calls += 1
        if self.score is None:
            raise ConnectionError("scoring service unreachable")
        return {"score": self.score}


@pytest.fixture
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture
def scoring(make_engine: Callable[..., flowdesk.Engine], scorer: Scorer) -> flowdesk.Engine:
    registry = flowdesk.HandlerRegistry()
    registry.register_service("scoring.Score", scorer)
    engine = make_engine(handlers=registry)
    engine.deploy(DATA / "events_incidents.bpmn")
    return engine


def incidents(engine: flowdesk.Engine, instance_id: str) -> list[flowdesk.HistoryEvent]:
    return [e for e in engine.history(instance_id) if e.type == "incident"]


def test_failing_service_task__is_an_incident_and_retry_after_the_fix_completes_it(
    scoring: flowdesk.Engine, scorer: Scorer
) -> None:
    instance = scoring.start("scoring", {"limit_grade": "A"})

    assert instance.state == "incident"
    assert "scoring service unreachable" in (instance.incident or "")
    (incident,) = incidents(scoring, instance.id)
    assert incident.element_id == "Service_score"
    assert instance.variables["prepared"] is True  # the steps before the failure are kept

    scorer.score = 720
    retried = scoring.retry(instance.id, user="ops")

    assert (retried.state, retried.incident) == ("running", None)
    assert retried.variables == {"limit_grade": "A", "prepared": True, "score": 720, "grade": "A"}
    assert [t.element_id for t in scoring.tasks(instance_id=instance.id)] == ["Task_offer"]
    assert scorer.calls == 2


def test_failing_script__is_an_incident_at_the_script_and_a_retry_runs_it_again(
    scoring: flowdesk.Engine, scorer: Scorer
) -> None:
    scorer.score = "high"  # the grade script cannot compare text with a number
    instance = scoring.start("scoring", {"limit_grade": "A"})

    assert instance.state == "incident"
    (incident,) = incidents(scoring, instance.id)
    assert incident.element_id == "Script_grade"

    again = scoring.retry(instance.id)  # nothing fixed: still an incident, recorded once
    assert again.state == "incident"
    assert len(incidents(scoring, instance.id)) == 1
    assert scorer.calls == 1  # the service task before the script is not run again


def test_failing_condition__is_an_incident_at_the_gateway(
    scoring: flowdesk.Engine, scorer: Scorer
) -> None:
    scorer.score = 650
    instance = scoring.start("scoring")  # no limit_grade: the condition names an unknown variable

    assert instance.state == "incident"
    assert "limit_grade" in (instance.incident or "")
    (incident,) = incidents(scoring, instance.id)
    assert incident.element_id == "Gateway_grade"
    assert instance.variables["grade"] == "B"  # the script before the gateway ran and is kept
