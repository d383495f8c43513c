"""Helpers of the REST API tests: a live `flowdesk serve` (the real command in a child process,
on a free loopback port, on the test's database) with a users file of its own. The clients the
tests drive it with are other people's packages. The fixture is in conftest.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from flowdesk.server import UserStore

ROOT = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"
# The example process whose external task the workers of the tests serve.
INVOICE = ROOT / "examples" / "invoice.bpmn"
# Who may log in, with their groups. Passwords are per user, so a wrong one is testable.
USERS = {
    "alice": ("sales",),
    "dave": ("sales",),
    "bob": ("leadership",),
    "carol": ("finance",),
    "wes": ("warehouse",),
}


def password(user: str) -> str:
    return f"{user}-secret"


@dataclass(frozen=True)
class LiveServer:
    """A running server: `url` is its `/engine-rest` base."""

    url: str
    db_url: str
    log: Path

    def auth(self, user: str) -> tuple[str, str]:
        return (user, password(user))

    def session(self, user: str) -> requests.Session:
        session = requests.Session()
        session.auth = self.auth(user)
        return session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(db_url: str, users: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    # The child imports flowdesk from this worktree, not from wherever it is installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "flowdesk", "--db", db_url, "serve", "--host", "127.0.0.1",
        "--port", str(port), "--users", str(users), "--no-jobs", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/engine-rest"


def _wait_ready(process: subprocess.Popen[bytes], url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    return False


def start_server(db_url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], LiveServer]:
    """Start `flowdesk serve` on the database, retrying on another port if one was taken."""
    users = tmp_path / "users.json"
    store = UserStore(users)
    for user, groups in USERS.items():
        store.add(user, password(user), groups)
    log = tmp_path / "server.log"
    for _ in range(3):  # the free port may be taken between looking and binding
        process, url = _start(db_url, users, log)
        if _wait_ready(process, url, time.monotonic() + 30):
            return process, LiveServer(url=url, db_url=db_url, log=log)
        process.kill()
        process.wait()
    raise RuntimeError(f"flowdesk serve did not start:\n{log.read_text(errors='replace')}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
