"""`Engine.reassign`: a leaving user's open tasks, held or offered, go to another user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA, Clock

import flowdesk
from flowdesk.store.repositories import HistoryRepository

HANDOVER = DATA / "reassign.bpmn"


@pytest.fixture
def handover(engine: flowdesk.Engine) -> flowdesk.Engine:
    """An engine with the handover process: `Task_sign` for `${owner}`, `Task_advise` offered
    to `${owner}` and dave, cancelled by a timer after 48 hours."""
    engine.deploy(HANDOVER)
    return engine


def start(engine: flowdesk.Engine, owner: str, account: str) -> dict[str, flowdesk.Task]:
    """Start a handover; returns its open tasks by element id."""
    instance = engine.start("handover", {"owner": owner, "account": account})
    return {task.element_id: task for task in engine.tasks(instance_id=instance.id)}


def test_reassign__moves_held_tasks_and_candidacies_of_open_tasks(
    handover: flowdesk.Engine,
) -> None:
    acme = start(handover, "alice", "ACME")
    bobs = start(handover, "bob", "Globex")

    assert handover.reassign("alice", "carol", user="admin") == 2

    sign, advise = handover.task(acme["Task_sign"].id), handover.task(acme["Task_advise"].id)
    assert sign.assignee == "carol"
    assert (advise.assignee, sorted(advise.candidate_users)) == (None, ["carol", "dave"])
    assert handover.tasks(assignee="alice") == []
    assert handover.tasks(candidate_user="alice") == []
    assert {t.id for t in handover.tasks(candidate_user="carol")} >= {advise.id}
    # Other users' tasks stay as they were.
    assert handover.task(bobs["Task_sign"].id).assignee == "bob"
    assert handover.task(bobs["Task_advise"].id).candidate_users == ("bob", "dave")


def test_reassign__new_assignee_completes_and_the_leaver_may_not(
    handover: flowdesk.Engine,
) -> None:
    acme = start(handover, "alice", "ACME")
    handover.reassign("alice", "carol")

    for element_id in ("Task_sign", "Task_advise"):
        with pytest.raises(flowdesk.NotAuthorized):
            handover.complete(acme[element_id].id, user="alice")
    with pytest.raises(flowdesk.NotAuthorized):
        handover.claim(acme["Task_advise"].id, user="alice")
    handover.complete(acme["Task_sign"].id, user="carol")
    instance = handover.complete(acme["Task_advise"].id, user="carol")

    assert instance.state == "completed"


def test_reassign__leaves_completed_and_cancelled_tasks_alone(
    handover: flowdesk.Engine, clock: Clock
) -> None:
    old = start(handover, "alice", "Initech")
    handover.complete(old["Task_sign"].id, user="alice")
    clock.advance(hours=48)
    assert handover.run_due_jobs() == 1  # the advice timer cancels Task_advise
    assert handover.task(old["Task_advise"].id).state == "cancelled"
    fresh = start(handover, "alice", "ACME")

    assert handover.reassign("alice", "carol") == 2

    done, cancelled = handover.task(old["Task_sign"].id), handover.task(old["Task_advise"].id)
    assert (done.state, done.assignee) == ("completed", "alice")
    assert (cancelled.state, cancelled.candidate_users) == ("cancelled", ("alice", "dave"))
    assert handover.task(fresh["Task_sign"].id).assignee == "carol"
    assert "task_reassigned" not in [e.type for e in handover.history(done.instance_id)]


def test_reassign__candidacy_moves_while_another_user_holds_the_task(
    handover: flowdesk.Engine,
) -> None:
    acme = start(handover, "alice", "ACME")
    handover.claim(acme["Task_advise"].id, user="dave")

    assert handover.reassign("alice", "carol") == 2

    advise = handover.task(acme["Task_advise"].id)
    assert (advise.assignee, sorted(advise.candidate_users)) == ("dave", ["carol", "dave"])


def test_reassign__target_already_a_candidate_is_listed_once(
    handover: flowdesk.Engine,
) -> None:
    acme = start(handover, "alice", "ACME")

    assert handover.reassign("alice", "dave") == 2

    assert handover.task(acme["Task_advise"].id).candidate_users == ("dave",)
    assert handover.task(acme["Task_sign"].id).assignee == "dave"


def test_reassign__history_records_each_moved_task(handover: flowdesk.Engine) -> None:
    acme = start(handover, "alice", "ACME")

    handover.reassign("alice", "carol", user="admin")

    events = handover.history(acme["Task_sign"].instance_id)
    moved = [e for e in events if e.type == "task_reassigned"]
    # Both tasks were created at the same instant: their order among themselves is not fixed.
    assert sorted((e.element_id, e.user, e.data) for e in moved) == [
        (
            "Task_advise",
            "admin",
            {"task_id": acme["Task_advise"].id, "from": "alice", "to": "carol"},
        ),
        (
            "Task_sign",
            "admin",
            {"task_id": acme["Task_sign"].id, "from": "alice", "to": "carol"},
        ),
    ]
    assert events[-2:] == moved


def test_reassign__nothing_to_move_returns_zero(handover: flowdesk.Engine) -> None:
    acme = start(handover, "alice", "ACME")

    assert handover.reassign("nobody", "carol") == 0
    assert handover.reassign("alice", "alice") == 0
    assert handover.reassign("alice", "carol") == 2
    assert handover.reassign("alice", "carol") == 0  # already moved

    history = handover.history(acme["Task_sign"].instance_id)
    assert [e.type for e in history].count("task_reassigned") == 2


@pytest.mark.parametrize(("from_user", "to_user"), [("", "carol"), ("alice", " ")])
def test_reassign__empty_user_names_are_refused(
    handover: flowdesk.Engine, from_user: str, to_user: str
) -> None:
    acme = start(handover, "alice", "ACME")

    with pytest.raises(ValueError, match="non-empty"):
        handover.reassign(from_user, to_user)

    assert handover.task(acme["Task_sign"].id).assignee == "alice"


def test_reassign__a_failing_step_changes_nothing(
    handover: flowdesk.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = start(handover, "alice", "ACME")

    def broken(self: HistoryRepository, events: object) -> None:
        raise flowdesk.StoreError("disk full")

    # The history insert is the call's last step: the task rows have changed by then.
    monkeypatch.setattr(HistoryRepository, "add_many", broken)
    with pytest.raises(flowdesk.StoreError, match="disk full"):
        handover.reassign("alice", "carol")
    monkeypatch.undo()

    assert handover.task(acme["Task_sign"].id).assignee == "alice"
    assert handover.task(acme["Task_advise"].id).candidate_users == ("alice", "dave")
    assert "task_reassigned" not in [
        e.type for e in handover.history(acme["Task_sign"].instance_id)
    ]


def test_reassign__survives_a_new_engine(
    handover: flowdesk.Engine, make_engine: Callable[..., flowdesk.Engine]
) -> None:
    acme = start(handover, "alice", "ACME")
    handover.reassign("alice", "carol")

    again = make_engine()

    assert again.task(acme["Task_sign"].id).assignee == "carol"
    again.complete(acme["Task_sign"].id, user="carol")
