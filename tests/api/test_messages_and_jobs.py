"""Messages reach the one instance that waits; timers fire when due on the engine's clock."""

from __future__ import annotations

import pytest
from conftest import DATA, Clock, only_task, submit

import flowdesk


@pytest.fixture
def quotes(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "messages.bpmn")
    return engine


def test_correlate__delivers_variables_to_the_waiting_instance(quotes: flowdesk.Engine) -> None:
    waiting = quotes.start("quote", business_key="Q-1")
    other = quotes.start("quote", business_key="Q-2")
    assert quotes.tasks(instance_id=waiting.id) == []

    result = quotes.correlate("customer_feedback", business_key="Q-1", variables={"accepted": True})

    assert result.id == waiting.id
    assert only_task(quotes, waiting.id).element_id == "Task_contract"
    assert quotes.instance(waiting.id).variables["accepted"] is True
    assert "message_correlated" in [e.type for e in quotes.history(waiting.id)]
    assert quotes.instance(other.id).state == "running"


def test_correlate__by_correlation_keys_picks_the_matching_instance(
    quotes: flowdesk.Engine,
) -> None:
    quotes.start("quote", {"customer": "acme"})
    wanted = quotes.start("quote", {"customer": "globex"})
    result = quotes.correlate(
        "customer_feedback", correlation_keys={"customer": "globex"}, variables={"accepted": False}
    )
    assert result.id == wanted.id
    assert quotes.instance(wanted.id).state == "completed"


def test_correlate__message_no_instance_waits_for_raises_naming_it(
    quotes: flowdesk.Engine,
) -> None:
    with pytest.raises(flowdesk.CorrelationError) as caught:
        quotes.correlate("customer_feedback", business_key="Q-404")
    assert caught.value.message_name == "customer_feedback"


def test_correlate__several_waiting_instances_raise(quotes: flowdesk.Engine) -> None:
    quotes.start("quote")
    quotes.start("quote")
    with pytest.raises(flowdesk.CorrelationError, match="2 instances"):
        quotes.correlate("customer_feedback", variables={"accepted": True})


def test_correlate__message_start_event_starts_an_instance(quotes: flowdesk.Engine) -> None:
    started = quotes.correlate("order_received", business_key="SO-1", variables={"amount": 120000})
    assert (started.key, started.business_key) == ("order_intake", "SO-1")
    assert started.variables["amount"] == 120000
    assert only_task(quotes, started.id).element_id == "Task_register"


def test_timer__fires_when_due_not_before_and_only_once(
    expense: flowdesk.Engine, clock: Clock
) -> None:
    instance = expense.start("expense_approval", user="alice")
    submit(expense, instance.id, 5000)
    (job,) = expense.jobs(instance_id=instance.id)
    assert job.element_id == "Timer_remind"
    assert job.due_at == clock.now.replace(day=clock.now.day + 2)

    clock.advance(hours=47, minutes=59)
    assert expense.run_due_jobs() == 0
    clock.advance(minutes=1)
    assert expense.run_due_jobs() == 1
    assert expense.run_due_jobs() == 0

    assert expense.instance(instance.id).variables["reminder_sent"] is True
    # The boundary timer is non-interrupting: the approval task is still there.
    assert only_task(expense, instance.id).element_id == "Task_approve"
    assert expense.jobs(instance_id=instance.id) == []
    assert [e.type for e in expense.history(instance.id)].count("timer_fired") == 1


def test_timer__job_goes_away_when_its_task_completes_first(
    expense: flowdesk.Engine, clock: Clock
) -> None:
    instance = expense.start("expense_approval", user="alice")
    submit(expense, instance.id, 5000)
    expense.complete(only_task(expense, instance.id).id, {"decision": "reject"}, user="bob")
    assert expense.jobs(instance_id=instance.id) == []
    clock.advance(days=3)
    assert expense.run_due_jobs() == 0
