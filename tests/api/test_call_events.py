"""Escalations and errors a called instance throws reach its call activity, as in Camunda 7: a
boundary event on the call activity (interrupting or not) or an event sub-process of the caller
catches them, and the call activity's `camunda:out` variables go to the caller as the event
passes, caught or not."""

from __future__ import annotations

import pytest
from conftest import DATA, complete, open_tasks

import flowdesk


@pytest.fixture
def reviews(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "calls_events.bpmn")
    return engine


def called(engine: flowdesk.Engine, caller_id: str) -> flowdesk.ProcessInstance:
    (instance,) = engine.instances(parent_id=caller_id)
    return instance


def test_non_interrupting_boundary__catches_the_escalation_and_the_call_goes_on(
    reviews: flowdesk.Engine,
) -> None:
    caller = reviews.start("watched_review", {"input": 42})
    review = called(reviews, caller.id)

    complete(reviews, review.id, "Task_start_review", {"late": True})

    assert open_tasks(reviews, caller.id) == ["Task_chase"]
    assert open_tasks(reviews, review.id) == ["Task_finish_review"]
    assert reviews.instance(caller.id).variables == {
        "input": 42,
        "output": 42,
        "escalation_code": "LATE",
    }
    complete(reviews, review.id, "Task_finish_review", {"input": 999})
    assert reviews.instance(review.id).state == "completed"
    assert open_tasks(reviews, caller.id) == ["Task_after_watched", "Task_chase"]
    assert reviews.instance(caller.id).variables["output"] == 999


def test_interrupting_boundary__cancels_the_call_and_terminates_the_called_instance(
    reviews: flowdesk.Engine,
) -> None:
    caller = reviews.start("cut_review", {"input": 42})
    review = called(reviews, caller.id)

    complete(reviews, review.id, "Task_start_review", {"late": True})

    assert open_tasks(reviews, caller.id) == ["Task_take_over"]
    assert reviews.instance(caller.id).variables == {"input": 42, "output": 42}
    assert reviews.instance(review.id).state == "terminated"
    assert open_tasks(reviews, review.id) == []


def test_call_activity__no_escalation_when_the_called_instance_is_on_time(
    reviews: flowdesk.Engine,
) -> None:
    caller = reviews.start("cut_review", {"input": 42})
    review = called(reviews, caller.id)

    complete(reviews, review.id, "Task_start_review", {"late": False})

    assert open_tasks(reviews, caller.id) == []
    assert open_tasks(reviews, review.id) == ["Task_finish_review"]
    assert "output" not in reviews.instance(caller.id).variables


def test_uncaught_escalation__still_hands_the_out_variables_to_the_caller(
    reviews: flowdesk.Engine,
) -> None:
    caller = reviews.start("unwatched_review", {"input": 42})
    review = called(reviews, caller.id)

    complete(reviews, review.id, "Task_start_review", {"late": True})

    assert reviews.instance(caller.id).variables == {"input": 42, "output": 42}
    assert reviews.instance(caller.id).state == "running"
    assert open_tasks(reviews, review.id) == ["Task_finish_review"]
    thrown = [e for e in reviews.history(caller.id) if e.type == "escalation_thrown"]
    assert [e.data["code"] for e in thrown] == ["LATE"]


def test_escalation_end_event__reaches_the_callers_event_subprocess_then_the_call_completes(
    reviews: flowdesk.Engine,
) -> None:
    supply = reviews.start("supply")

    assert open_tasks(reviews, supply.id) == ["Task_after_supply", "Task_find_supplier"]
    assert reviews.instance(supply.id).variables == {
        "reason": "no stock",
        "escalation_code": "LATE",
    }
    assert called(reviews, supply.id).state == "completed"


def test_uncaught_error_end_event__ends_the_called_path_and_the_caller_goes_on(
    reviews: flowdesk.Engine,
) -> None:
    # Camunda 7: an error nothing catches ends its execution like a none end event.
    restock = reviews.start("restock")

    assert open_tasks(reviews, restock.id) == ["Task_after_check"]
    assert reviews.instance(restock.id).variables == {"counted": 0}
    assert called(reviews, restock.id).state == "completed"
    thrown = [e for e in reviews.history(restock.id) if e.type == "error_thrown"]
    assert [e.data["code"] for e in thrown] == ["NO_STOCK"]


def test_escalation__passes_a_caller_that_does_not_catch_it_on_to_the_next_caller(
    reviews: flowdesk.Engine,
) -> None:
    top = reviews.start("top_review")
    middle = called(reviews, top.id)
    review = called(reviews, middle.id)

    complete(reviews, review.id, "Task_start_review", {"late": True})

    assert open_tasks(reviews, top.id) == ["Task_top_chase"]
    assert reviews.instance(middle.id).state == "running"
    assert open_tasks(reviews, review.id) == ["Task_finish_review"]


def test_interrupting_escalation_event_subprocess_of_the_caller__terminates_the_call(
    reviews: flowdesk.Engine,
) -> None:
    caller = reviews.start("escalated_review")
    review = called(reviews, caller.id)

    complete(reviews, review.id, "Task_start_review", {"late": True})

    assert open_tasks(reviews, caller.id) == ["Task_escalated"]
    assert reviews.instance(review.id).state == "terminated"
    assert complete(reviews, caller.id, "Task_escalated", {}).state == "completed"
