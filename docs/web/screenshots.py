"""Take the screenshots of docs/web.md: the tasklist, a task form, and an instance's diagram.

    python docs/web/screenshots.py

Needs the `server` and `dev` extras (Starlette, uvicorn, playwright), Chromium at
/usr/bin/chromium (or `FLOWDESK_CHROMIUM`) and, for the Chinese labels, a CJK font (Debian:
`apt install fonts-wqy-microhei`). It builds a SQLite database in a temporary folder with the
shipped order review process (an order of 800,000 CNY that sales registered and three of six
reviewers have answered, twice), starts `flowdesk serve` on it on a free loopback port, logs
in as a reviewer who still has to answer, and writes next to this script:

- `tasklist.png`: the tasklist of `tina` (production technology): the review of one order
  she claimed, the other's offered to her group;
- `task-form.png`: that review's generated form after a submission without its required
  opinion: the engine's error is shown next to the field;
- `instance.png`: the order's instance page: the diagram with the three waiting reviews
  marked green with their counts, the path taken in blue.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # this checkout's flowdesk, not another installed one

import flowdesk  # noqa: E402
from flowdesk.processes import order_review  # noqa: E402
from flowdesk.processes.roles import STAFF  # noqa: E402
from flowdesk.server import UserStore  # noqa: E402

SCROLL_TO_WAITING = """() => {
  const box = document.querySelector('#diagram .diagram');
  const waiting = document.querySelector('#diagram g[data-state=waiting]');
  const b = box.getBoundingClientRect(), w = waiting.getBoundingClientRect();
  box.scrollLeft += w.left - b.left - box.clientWidth * 0.6;
  box.scrollTop += w.top - b.top - box.clientHeight * 0.3;
}"""
USER = "tina"
PASSWORD = "tina-secret"


def seed(db_url: str) -> str:
    """Two orders in review, as in docs/diagrams/generate.py; returns the first one's id."""
    with flowdesk.Engine(db_url, groups=STAFF) as engine:
        engine.deploy(REPO / "bpmn")
        first = _order(engine, "SO-2026-001", "Huadong Coatings")
        _order(engine, "SO-2026-002", "Jiangnan Paints")
        return first


def _order(engine: flowdesk.Engine, order_no: str, customer: str) -> str:
    """An order of 800,000 CNY that sales registered and three of six reviewers answered."""
    order = order_review.start(
        engine,
        order_no=order_no,
        customer_id="C-100",
        customer_name=customer,
        amount=800_000,
        contract_signer="sally",
        user="sam",
    )
    _complete(
        engine,
        order.id,
        "Task_receive_order",
        "sam",
        {
            "product": "Epoxy resin E-51",
            "quantity": 120,
            "delivery_date": "2026-05-15",
            "customer_contact": "Ms. Wang",
            "contact_phone": "021-5555-0101",
        },
    )
    for element_id, user, suffix in (
        ("Task_review_production", "pete", "production"),
        ("Task_review_research", "rita", "research"),
        ("Task_review_quality", "quinn", "quality"),
    ):
        _complete(
            engine,
            order.id,
            element_id,
            user,
            {f"opinion_{suffix}": "can_meet", f"comment_{suffix}": "fine"},
        )
    return order.id


def _complete(
    engine: flowdesk.Engine, instance_id: str, element_id: str, user: str, data: dict[str, object]
) -> None:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.claim(task.id, user=user)
    engine.complete(task.id, data, user=user)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(db_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    users = UserStore(folder / "users.json")
    users.add(USER, PASSWORD, STAFF[USER])
    port = _free_port()
    command = [
        sys.executable, "-m", "flowdesk", "--db", db_url, "serve", "--host", "127.0.0.1",
        "--port", str(port), "--users", str(folder / "users.json"), "--no-jobs",
        "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/engine-rest/openapi.json", timeout=1):
                return process, base + "/app"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("flowdesk serve did not start")


def shoot(app: str, instance_id: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = os.environ.get("FLOWDESK_CHROMIUM") or shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page.goto(f"{app}/tasks")
        page.fill("#user", USER)
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        expect(page.locator("header #user")).to_have_text(USER)
        page.locator("#offered").get_by_role("button", name="Claim").first.click()
        expect(page.locator("#mine tr[data-task-id]")).to_have_count(1)
        page.screenshot(path=HERE / "tasklist.png", full_page=True)

        page.locator("#mine tr[data-task-id] a").first.click()
        page.click("#complete")  # nothing filled in: the engine names what is missing
        expect(page.locator(".task-form .error").first).to_be_visible()
        page.screenshot(path=HERE / "task-form.png", full_page=True)

        page.goto(f"{app}/instances/{instance_id}?zoom=50")
        expect(page.locator("#diagram svg")).to_be_visible()
        page.set_viewport_size({"width": 1280, "height": 1000})
        # The diagram is shown at the Modeler's scale in a scrolled box: scroll it to the
        # waiting reviews, with the path that led there on their left, as a reader would.
        page.evaluate(SCROLL_TO_WAITING)
        page.screenshot(path=HERE / "instance.png")
        browser.close()
    for name in ("tasklist.png", "task-form.png", "instance.png"):
        print(f"wrote {HERE / name}", file=sys.stderr)


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        db_url = f"sqlite:///{folder / 'flowdesk.db'}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instance_id = seed(db_url)
        process, app = serve(db_url, folder)
        try:
            shoot(app, instance_id)
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
