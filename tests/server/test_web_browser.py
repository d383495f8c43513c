"""The web pages in a real browser: headless Chromium (Debian's package) driven by Playwright
against a live `flowdesk serve` on a free loopback port, on SQLite and PostgreSQL.

A person logs in, claims a task, submits its generated form with mistakes, sees the engine's
errors next to the fields with what they typed still there, fixes them and completes it; the
variables are then read through the engine. An instance page shows its diagram with the
waiting task marked (the SVG element's `data-state`, colour and badge, not pixels).

Needs the `playwright` package (dev extra; its own browser download is not used) and
Chromium at /usr/bin/chromium or at `FLOWDESK_CHROMIUM`; without them the tests skip and say
why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_server import DATA, LiveServer, password

import flowdesk

CHROMIUM = os.environ.get("FLOWDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WAITING_GREEN = "#1f8a3b"  # flowdesk.diagrams' colour of a waiting element

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium package, or set "
        "FLOWDESK_CHROMIUM to a Chromium executable",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (pip install '.[dev]')"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def app_url(server: LiveServer) -> str:
    return server.url.removesuffix("/engine-rest") + "/app"


def log_in(page: Any, server: LiveServer, user: str, path: str = "/tasks") -> None:
    page.goto(app_url(server) + path)
    assert "/app/login" in page.url  # no session yet: the login page first
    page.fill("#user", user)
    page.fill("#password", password(user))
    page.click("form.login button[type=submit]")
    sync_api.expect(page.locator("header #user")).to_have_text(user)


def test_a_user_logs_in_claims_and_completes_a_task_through_the_generated_form(
    live_server: LiveServer, page: Any
) -> None:
    with flowdesk.Engine(live_server.db_url) as engine:
        engine.deploy(DATA / "web_order.bpmn")
        instance = engine.start("web_order", {"order_no": "W-100"})
        (enter,) = engine.tasks(instance_id=instance.id)

    log_in(page, live_server, "alice")
    offered = page.locator(f"#offered tr[data-task-id='{enter.id}']")
    sync_api.expect(offered).to_contain_text("Enter order 录入订单")
    offered.get_by_role("button", name="Claim").click()
    held = page.locator(f"#mine tr[data-task-id='{enter.id}']")
    sync_api.expect(held).to_be_visible()
    sync_api.expect(page.locator(f"#offered tr[data-task-id='{enter.id}']")).to_have_count(0)

    held.get_by_role("link", name="Enter order 录入订单").click()
    sync_api.expect(page.locator("#assignee")).to_have_text("alice")
    page.fill("#f-customer", "A")
    page.fill("#f-quantity", "twelve")
    page.check("#f-express")
    page.click("#complete")

    sync_api.expect(page.locator("#error-customer")).to_have_text("must be at least 2 characters")
    sync_api.expect(page.locator("#error-quantity")).to_have_text(
        "expected a whole number, got 'twelve'"
    )
    assert page.input_value("#f-customer") == "A"  # what was typed is still there
    assert page.input_value("#f-quantity") == "twelve"
    assert page.is_checked("#f-express")

    page.fill("#f-customer", "Acme 公司")
    page.fill("#f-quantity", "12")
    page.fill("#f-delivery", "2026-03-05")
    page.select_option("#f-channel", "phone")
    page.click("#complete")
    sync_api.expect(page.locator("p.flash")).to_contain_text("Completed")
    assert page.url.endswith("/app/tasks")
    sync_api.expect(page.locator(f"tr[data-task-id='{enter.id}']")).to_have_count(0)

    with flowdesk.Engine(live_server.db_url) as engine:
        variables = engine.instance(instance.id).variables
        assert engine.task(enter.id).completed_by == "alice"
    shown = ("customer", "quantity", "express", "delivery", "channel", "order_no")
    assert {k: variables[k] for k in shown} == {
        "customer": "Acme 公司",
        "quantity": 12,
        "express": True,
        "delivery": "2026-03-05",
        "channel": "phone",
        "order_no": "W-100",
    }


def test_an_instance_page_shows_its_diagram_with_the_waiting_task_marked(
    live_server: LiveServer, page: Any
) -> None:
    with flowdesk.Engine(live_server.db_url) as engine:
        engine.deploy(DATA / "web_order.bpmn")
        instance = engine.start("web_order", {"order_no": "W-101"})
        (enter,) = engine.tasks(instance_id=instance.id)
        engine.complete(enter.id, {"customer": "Acme", "quantity": 3})

    log_in(page, live_server, "bob", f"/instances/{instance.id}")
    assert page.url.endswith(f"/app/instances/{instance.id}")  # back where the visitor was going
    approve = page.locator("#diagram svg g[data-element-id='Approve']")
    sync_api.expect(approve).to_be_visible()
    assert approve.get_attribute("data-state") == "waiting"
    assert approve.get_attribute("data-waiting") == "1"
    assert approve.locator("rect").first.get_attribute("stroke") == WAITING_GREEN
    badge = page.locator("#diagram svg g[data-badge-for='Approve']")
    sync_api.expect(badge).to_be_visible()
    sync_api.expect(badge).to_have_text("1")
    entered = page.locator("#diagram svg g[data-element-id='Enter']")
    assert entered.get_attribute("data-state") == "completed"
    assert page.locator("#diagram svg g[data-element-id='F1']").get_attribute("data-state") == (
        "taken"
    )
    sync_api.expect(page.locator("#waiting")).to_contain_text("Approve order 审批订单")
    sync_api.expect(page.locator("tr[data-variable='customer'] td").nth(1)).to_have_text("Acme")


def test_an_incident_is_retried_with_the_button_on_its_instance_page(
    live_server: LiveServer, page: Any
) -> None:
    with flowdesk.Engine(live_server.db_url) as engine:
        with pytest.warns(flowdesk.MissingCalledProcessWarning):  # web_slots comes later
            engine.deploy(DATA / "web_booking.bpmn")
        instance = engine.start("web_booking")
        assert instance.state == "incident"

    log_in(page, live_server, "carol", f"/instances/{instance.id}")
    book = page.locator("#diagram svg g[data-element-id='Book']")
    assert book.get_attribute("data-state") == "incident"
    sync_api.expect(page.locator("#diagram svg g[data-badge-for='Book']")).to_have_text("1")
    sync_api.expect(page.locator("#incident-message")).to_contain_text("web_slots")

    with flowdesk.Engine(live_server.db_url) as engine:
        engine.deploy(DATA / "web_slots.bpmn")  # what the call was missing
    page.click("#retry")
    sync_api.expect(page.locator("p.flash")).to_have_text("The failed step ran again.")
    sync_api.expect(page.locator("#instance-state")).to_have_text("running")
    assert page.locator("#incident").count() == 0
    confirm = page.locator("#diagram svg g[data-element-id='Confirm']")
    assert confirm.get_attribute("data-state") == "waiting"
    assert book.get_attribute("data-state") == "completed"
    with flowdesk.Engine(live_server.db_url) as engine:
        events = [e for e in engine.history(instance.id) if e.type == "incident_retried"]
        assert [e.user for e in events] == ["carol"]
