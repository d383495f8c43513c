"""`engine.report`: process analysis from history — counts, cycle times, steps, gateways."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import DATA, EXAMPLES, Clock, only_task, submit

import flowdesk

H = timedelta(hours=1)


def expense_run(
    engine: flowdesk.Engine,
    clock: Clock,
    *,
    amount: int,
    submit_after: timedelta,
    approve_after: timedelta | None = None,
    decision: str = "approve",
    pay_after: timedelta | None = None,
) -> str:
    """One expense, each step done the given time after the one before; returns its id."""
    instance = engine.start("expense_approval", user="alice")
    clock.now += submit_after
    submit(engine, instance.id, amount)
    if approve_after is not None:
        clock.now += approve_after
        task = only_task(engine, instance.id)
        engine.complete(task.id, {"decision": decision}, user="bob")
    if pay_after is not None:
        clock.now += pay_after
        task = only_task(engine, instance.id)
        engine.complete(task.id, {"paid_on": "2026-03-04"}, user="carol")
    clock.now += H  # the next expense starts later
    return instance.id


@pytest.fixture
def five_expenses(expense: flowdesk.Engine, clock: Clock) -> list[datetime]:
    """Two small expenses (one unpaid), two approved and one rejected; their start times."""
    starts = []
    for run in [
        {"amount": 200, "submit_after": 1 * H, "pay_after": 3 * H},
        {"amount": 5000, "submit_after": 2 * H, "approve_after": 5 * H, "pay_after": 1 * H},
        {"amount": 3000, "submit_after": 1 * H, "approve_after": 9 * H, "decision": "reject"},
        {"amount": 500, "submit_after": H / 2},  # still waiting to be paid
        {"amount": 1500, "submit_after": 1 * H, "approve_after": 3 * H, "pay_after": 2 * H},
    ]:
        starts.append(clock.now)
        expense_run(expense, clock, **run)  # type: ignore[arg-type]
    return starts


def step(
    element_id: str, name: str, hours: list[float], median: float, p90: float
) -> flowdesk.StepStatistics:
    return flowdesk.StepStatistics(
        element_id=element_id,
        name=name,
        count=len(hours),
        median=median * H,
        p90=p90 * H,
        total=sum(hours) * H,
    )


def test_report__counts_cycle_times_steps_bottleneck_and_gateways(
    expense: flowdesk.Engine, five_expenses: list[datetime], clock: Clock
) -> None:
    clock.now += timedelta(days=400)  # the report reads history only, not the clock
    report = expense.report("expense_approval")

    # Inclusive quantiles interpolate: cycle times 4h, 6h, 8h, 10h give p90 = 8h + 0.7*2h.
    approve = step("Task_approve", "Approve expense", [5, 9, 3], median=5, p90=8.2)
    assert report == flowdesk.ProcessReport(
        key="expense_approval",
        started=5,
        completed=4,
        terminated=0,
        running=1,
        incidents=0,
        cycle_time_median=7 * H,
        cycle_time_p90=timedelta(hours=9, minutes=24),
        steps=(  # in the order their first task completed
            step("Task_submit", "Submit expense", [1, 2, 1, 0.5, 1], median=1, p90=1.6),
            step("Task_pay", "Pay expense", [3, 1, 2], median=2, p90=2.8),
            approve,
        ),
        bottleneck=approve,
        gateways=(
            flowdesk.GatewayStatistics(
                element_id="Gateway_amount",
                name="Amount over 1000?",
                passed=5,
                outcomes={"Task_approve": 3, "Task_pay": 2},
                outcome_names={"Task_approve": "Approve expense", "Task_pay": "Pay expense"},
            ),
            flowdesk.GatewayStatistics(
                element_id="Gateway_decision",
                name="Approved?",
                passed=3,
                outcomes={"Task_pay": 2, "End_rejected": 1},
                outcome_names={"Task_pay": "Pay expense", "End_rejected": "Expense rejected"},
            ),
        ),
    )


def test_report__since_and_until_choose_instances_by_their_start(
    expense: flowdesk.Engine, five_expenses: list[datetime]
) -> None:
    report = expense.report("expense_approval", since=five_expenses[1], until=five_expenses[3])

    assert (report.since, report.until) == (five_expenses[1], five_expenses[3])
    assert (report.started, report.completed, report.running) == (2, 2, 0)
    assert (report.cycle_time_median, report.cycle_time_p90) == (9 * H, 9.8 * H)
    assert [(s.element_id, s.count) for s in report.steps] == [
        ("Task_submit", 2),
        ("Task_approve", 2),
        ("Task_pay", 1),
    ]
    assert report.gateways[1].outcomes == {"End_rejected": 1, "Task_pay": 1}
    later = expense.report("expense_approval", since=five_expenses[4] + timedelta(seconds=1))
    assert later == flowdesk.ProcessReport(
        key="expense_approval", since=five_expenses[4] + timedelta(seconds=1)
    )


def test_report__a_single_instance_is_its_own_median_and_p90(
    expense: flowdesk.Engine, clock: Clock
) -> None:
    expense_run(expense, clock, amount=100, submit_after=timedelta(minutes=7), pay_after=H)

    report = expense.report("expense_approval")

    assert report.cycle_time_median == report.cycle_time_p90 == timedelta(minutes=67)
    assert report.bottleneck is not None
    assert (report.bottleneck.element_id, report.bottleneck.median) == ("Task_pay", H)


def test_report__deployed_but_never_started_is_empty(expense: flowdesk.Engine) -> None:
    report = expense.report("expense_approval")

    assert report == flowdesk.ProcessReport(key="expense_approval")
    assert report.bottleneck is None and report.cycle_time_median is None


def test_report__unknown_key_is_not_found(expense: flowdesk.Engine) -> None:
    with pytest.raises(flowdesk.NotFound, match="expense_approvl"):
        expense.report("expense_approvl")


def test_report__terminated_incidents_inclusive_outcomes_and_no_joins(
    engine: flowdesk.Engine, clock: Clock
) -> None:
    engine.deploy(DATA / "report_outcomes.bpmn")
    states = []
    for variables in [
        {"outcome": "stop"},
        {"outcome": "fail"},
        {"outcome": "go", "notify_sales": True, "notify_finance": True},
        {"outcome": "go", "notify_sales": False, "notify_finance": True},
    ]:
        instance = engine.start("report_outcomes")
        clock.advance(minutes=30)
        task = only_task(engine, instance.id)
        states.append(engine.complete(task.id, variables, user="alice").state)
    assert states == ["terminated", "incident", "completed", "completed"]

    report = engine.report("report_outcomes")

    assert (report.started, report.completed, report.terminated) == (4, 2, 1)
    assert (report.running, report.incidents) == (1, 1)  # the instance in incident still runs
    assert report.cycle_time_median == report.cycle_time_p90 == timedelta(minutes=30)
    # The joining gateway Gateway_notified has one way out: it makes no decision to report.
    assert [(g.element_id, g.passed, g.outcomes) for g in report.gateways] == [
        ("Gateway_outcome", 4, {"Gateway_notify": 2, "End_stopped": 1, "Script_broken": 1}),
        ("Gateway_notify", 2, {"Script_finance": 2, "Script_sales": 1}),
    ]
    # Script tasks have no duration in history: only the user task is a step.
    assert [s.element_id for s in report.steps] == ["Task_check"]


def test_report__naive_window_is_refused(expense: flowdesk.Engine) -> None:
    with pytest.raises(ValueError, match="naive"):
        expense.report("expense_approval", since=datetime(2026, 3, 2, 9, 0))


def test_report__counts_every_version_of_the_key(
    expense: flowdesk.Engine, clock: Clock, tmp_path: Path
) -> None:
    expense_run(expense, clock, amount=100, submit_after=H, pay_after=H)
    renamed = (
        (EXAMPLES / "expense_approval.bpmn")
        .read_text()
        .replace('name="Pay expense"', 'name="Pay out"')
    )
    path = tmp_path / "expense_approval.bpmn"
    path.write_text(renamed)
    (v2,) = expense.deploy(path)
    assert v2.version == 2
    expense_run(expense, clock, amount=100, submit_after=H, pay_after=3 * H)

    report = expense.report("expense_approval")

    assert (report.started, report.completed) == (2, 2)
    pay = report.steps[1]
    assert (pay.element_id, pay.name, pay.count, pay.median) == ("Task_pay", "Pay out", 2, 2 * H)
