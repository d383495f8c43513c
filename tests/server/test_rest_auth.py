"""Who may call: scrypt password hashes, the users file and `flowdesk users`, and an embedding
application's own authenticator whose groups reach the Engine's authorization."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from click.testing import CliRunner
from rest_server import DATA
from starlette.requests import HTTPConnection

import flowdesk
from flowdesk.cli import main
from flowdesk.server import (
    Identity,
    UserStore,
    create_app,
    hash_password,
    request_groups,
    verify_password,
)


def test_a_password_hash_is_salted_and_checks_only_its_password() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and first.startswith("scrypt$")
    assert "s3cret" not in first
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("S3cret", first)
    assert not verify_password("s3cret", first[:-4] + "AAA=")
    assert not verify_password("s3cret", "md5$whatever")


def test_the_users_file_keeps_hashes_and_groups_and_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    store = UserStore(path)
    store.add("alice", "pw-a", ["sales", "sales", "audit"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "pw-a" not in path.read_text()
    assert store.verify("alice", "pw-a") == Identity("alice", ("audit", "sales"))
    assert store.verify("alice", "wrong") is None
    assert store.verify("nobody", "pw-a") is None
    other = UserStore(path)  # another process's view of the same file
    other.add("bob", "pw-b", ["leadership"])
    os.utime(path, (1, 1))  # a different modification time, whatever the clock's resolution
    assert store.groups_of("bob") == ("leadership",)
    assert store.remove("bob") and not store.remove("bob")
    with pytest.raises(ValueError, match="':'"):
        store.add("a:b", "pw", [])


def test_flowdesk_users_adds_lists_and_removes(tmp_path: Path) -> None:
    users = str(tmp_path / "users.json")
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["users", "add", "carol", "--group", "finance", "--password-stdin", "--users", users],
        input="carol-pw\n",
    )
    assert added.exit_code == 0, added.output
    assert UserStore(users).verify("carol", "carol-pw") == Identity("carol", ("finance",))
    listed = runner.invoke(main, ["users", "list", "--users", users])
    assert listed.output.splitlines() == ["carol\tfinance"]
    assert runner.invoke(main, ["users", "remove", "carol", "--users", users]).exit_code == 0
    assert json.loads(Path(users).read_text()) == {"users": {}}
    empty = runner.invoke(main, ["users", "add", "x", "--password-stdin", "--users", users])
    assert empty.exit_code == 2  # an empty password is refused


class HeaderAuthenticator:
    """An application's own login (say, a proxy that sets a header), with its own groups."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"dave": ("sales",), "erin": ()}

    def authenticate(self, connection: HTTPConnection) -> Identity | None:
        user = connection.headers.get("x-remote-user")
        if user not in self.GROUPS:
            return None
        return Identity(user, self.GROUPS[user])


def test_an_applications_authenticator_decides_who_calls_and_in_which_groups(
    db_url: str,
) -> None:
    # No groups of its own: the Engine learns each caller's groups from the authenticator.
    engine = flowdesk.Engine(db_url, groups=request_groups())
    engine.deploy(DATA / "rest_order.bpmn")
    instance = engine.start("rest_order", business_key="O-1", user="zoe")
    (task,) = engine.tasks(instance_id=instance.id)
    try:
        asyncio.run(_claims(engine, task.id))
        assert engine.task(task.id).assignee == "dave"
    finally:
        engine.close()


async def _claims(engine: flowdesk.Engine, task_id: str) -> None:
    transport = httpx.ASGITransport(app=create_app(engine, HeaderAuthenticator()))
    async with httpx.AsyncClient(transport=transport, base_url="http://app/engine-rest") as client:
        assert (await client.get("/task")).status_code == 401
        unknown = await client.get("/task", headers={"X-Remote-User": "eve"})
        assert unknown.status_code == 401
        erin = await client.post(
            f"/task/{task_id}/claim", json={"userId": "erin"}, headers={"X-Remote-User": "erin"}
        )
        assert erin.status_code == 403 and erin.json()["type"] == "AuthorizationException"
        dave = await client.post(
            f"/task/{task_id}/claim", json={"userId": "dave"}, headers={"X-Remote-User": "dave"}
        )
        assert dave.status_code == 204
