"""`UnitOfWork.after_commit`: callbacks run once the transaction committed, never after a
rollback (the engine's workflow cache relies on it)."""

from __future__ import annotations

import pytest

from flowdesk.errors import NotFound
from flowdesk.store import Store


def test_after_commit__runs_in_order_once_the_unit_of_work_committed(store: Store) -> None:
    ran: list[str] = []
    with store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("first"))
        uow.after_commit(lambda: ran.append("second"))
        assert ran == []
    assert ran == ["first", "second"]


def test_after_commit__never_runs_when_the_unit_of_work_rolls_back(store: Store) -> None:
    ran: list[str] = []
    with pytest.raises(NotFound), store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("kept"))
        uow.instances.get("no-such-instance")
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("kept"))
        raise RuntimeError("the caller failed after saving")
    assert ran == []
