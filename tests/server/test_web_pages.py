"""The web tasklist and cockpit (`/app`), driven in-process over HTTP (Starlette's test client)
on a real engine and database: login, who sees and may do what, the generated form and the
engine's validation errors, the cockpit's counts, an incident retried from its page.

The same flows run in a real browser in test_web_browser.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import html
from rest_server import DATA, USERS, password

import flowdesk
from flowdesk.server import BasicAuthenticator, UserStore, create_app, request_groups


class Site:
    """A browser-less visitor of the pages (httpx on the ASGI app in this process): a cookie
    jar, and each page's parsed HTML."""

    def __init__(self, engine: flowdesk.Engine, users: UserStore) -> None:
        app = create_app(engine, BasicAuthenticator(users), session_secret="test-secret")
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, path, **kwargs))

    def get(self, path: str) -> tuple[int, Any]:
        response = self.request("GET", path, follow_redirects=True)
        return response.status_code, html.fromstring(response.text)

    def post(self, path: str, data: dict[str, Any], *, token: bool = True) -> tuple[int, Any]:
        if token:
            data = {**data, "csrf": self.token()}
        response = self.request("POST", path, data=data, follow_redirects=True)
        return response.status_code, html.fromstring(response.text)

    def token(self) -> str:
        _, page = self.get("/app/login")
        value: str = page.xpath("//input[@name='csrf']/@value")[0]
        return value

    def login(self, user: str, secret: str | None = None) -> tuple[int, Any]:
        return self.post(
            "/app/login", {"user": user, "password": secret or password(user), "next": ""}
        )


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    store = UserStore(tmp_path / "users.json")
    for user, groups in USERS.items():
        store.add(user, password(user), groups)
    return store


@pytest.fixture
def engine(db_url: str, users: UserStore) -> Iterator[flowdesk.Engine]:
    with flowdesk.Engine(db_url, groups=request_groups(users.groups_of)) as engine:
        engine.deploy(DATA / "web_order.bpmn")
        with pytest.warns(flowdesk.MissingCalledProcessWarning):  # web_slots comes later
            engine.deploy(DATA / "web_booking.bpmn")
        yield engine


@pytest.fixture
def site(engine: flowdesk.Engine, users: UserStore) -> Iterator[Site]:
    site = Site(engine, users)
    try:
        yield site
    finally:
        site.close()


def _texts(page: Any, xpath: str) -> list[str]:
    return [" ".join(node.text_content().split()) for node in page.xpath(xpath)]


def _task_rows(page: Any, section: str) -> list[str]:
    return [str(v) for v in page.xpath(f"//section[@id='{section}']//tr/@data-task-id")]


def test_a_visitor_without_a_session_is_sent_to_log_in_and_a_wrong_password_is_refused(
    site: Site,
) -> None:
    response = site.request("GET", "/app/tasks")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login?next=/app/tasks"

    status, page = site.login("alice", "not-her-password")
    assert status == 401
    assert _texts(page, "//p[@role='alert']") == ["Unknown user or wrong password."]
    assert site.request("GET", "/app/tasks").status_code == 303

    status, page = site.login("alice")
    assert status == 200
    assert _texts(page, "//*[@id='user']") == ["alice"]
    assert _texts(page, "//h1") == ["Tasklist"]

    site.post("/app/logout", {})
    assert site.request("GET", "/app/tasks").status_code == 303


def test_a_login_goes_on_to_the_page_asked_for_but_never_to_another_site(site: Site) -> None:
    token = site.token()
    response = site.request(
        "POST",
        "/app/login",
        data={
            "user": "bob",
            "password": password("bob"),
            "next": "/app/processes",
            "csrf": token,
        },
    )
    assert response.headers["location"] == "/app/processes"
    response = site.request(
        "POST",
        "/app/login",
        data={
            "user": "bob",
            "password": password("bob"),
            "next": "//evil.example/x",
            "csrf": site.token(),
        },
    )
    assert response.headers["location"] == "/app/tasks"


def test_the_tasklist_shows_what_the_user_holds_and_what_their_groups_are_offered(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-1"}, user="wes")
    (enter,) = engine.tasks(instance_id=instance.id)
    engine.deploy(DATA / "web_slots.bpmn")
    open_booking = engine.start("web_booking")
    (confirm,) = engine.tasks(instance_id=open_booking.id)

    site.login("bob")  # leadership: the sales task is not offered to him
    _, page = site.get("/app/tasks")
    assert _task_rows(page, "offered") == []
    assert _task_rows(page, "anyone") == [confirm.id]  # no candidates: open to everyone

    site.login("alice")  # sales
    _, page = site.get("/app/tasks")
    assert _task_rows(page, "mine") == []
    assert _task_rows(page, "offered") == [enter.id]

    status, page = site.post(f"/app/tasks/{enter.id}/claim", {"back": "list"})
    assert status == 200
    assert _task_rows(page, "mine") == [enter.id]
    assert _task_rows(page, "offered") == []
    assert engine.task(enter.id).assignee == "alice"
    assert "You hold" in " ".join(_texts(page, "//p[@class='flash']"))

    site.login("dave")  # also sales, but alice holds it now
    _, page = site.get("/app/tasks")
    assert _task_rows(page, "offered") == []

    site.login("alice")
    site.post(f"/app/tasks/{enter.id}/unclaim", {})
    assert engine.task(enter.id).assignee is None


def test_claiming_a_task_the_user_is_no_candidate_for_is_refused_by_the_engine(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-2"})
    (enter,) = engine.tasks(instance_id=instance.id)
    site.login("carol")  # finance
    status, page = site.post(f"/app/tasks/{enter.id}/claim", {})
    assert status == 403
    assert "may not act on task" in " ".join(_texts(page, "//p[@role='alert']"))
    assert engine.task(enter.id).assignee is None


def test_a_post_without_the_sessions_token_changes_nothing(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-3"})
    (enter,) = engine.tasks(instance_id=instance.id)
    site.login("alice")
    status, _ = site.post(f"/app/tasks/{enter.id}/claim", {"csrf": "forged"}, token=False)
    assert status == 403
    assert engine.task(enter.id).assignee is None


def test_the_form_shows_the_fields_with_the_variables_and_defaults(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-4", "quantity": 7})
    (enter,) = engine.tasks(instance_id=instance.id)
    site.login("alice")
    _, page = site.get(f"/app/tasks/{enter.id}")
    assert _texts(page, "//form[@id='task-form']//label") == [
        "Customer 客户 *", "Quantity 数量 *", "Express delivery", "Deliver on", "Channel 渠道",
        "Order number",
    ]  # fmt: skip
    form = page.xpath("//form[@id='task-form']")[0]
    assert form.get("novalidate") is not None  # the engine validates, not the browser
    assert form.xpath(".//input[@name='quantity']/@value") == ["7"]  # the variable's value
    assert form.xpath(".//input[@id='f-delivery']/@type") == ["date"]
    assert form.xpath(".//input[@id='f-express']/@type") == ["checkbox"]
    assert form.xpath(".//select[@name='channel']/option[@selected]/@value") == ["web"]
    assert _texts(form, ".//select[@name='channel']/option") == ["—", "Web shop 网店", "Phone 电话"]
    assert form.xpath(".//input[@name='order_no']/@value") == ["W-4"]
    assert form.xpath(".//input[@name='order_no']/@disabled") == ["disabled"]
    assert _texts(page, "//div[@class='documentation']") == ["Order W-4 from the web shop"]


def test_invalid_values_show_the_engines_errors_with_the_values_kept_then_complete(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-5"})
    (enter,) = engine.tasks(instance_id=instance.id)
    site.login("alice")
    status, page = site.post(
        f"/app/tasks/{enter.id}/complete",
        {"customer": "A", "quantity": "twelve", "express": ["false", "true"], "channel": ""},
    )
    assert status == 422
    errors = {
        str(node.getparent().get("data-field")): node.text_content()
        for node in page.xpath("//span[@class='error']")
    }
    assert errors == {
        "customer": "must be at least 2 characters",
        "quantity": "expected a whole number, got 'twelve'",
    }
    form = page.xpath("//form[@id='task-form']")[0]
    assert form.xpath(".//input[@name='customer']/@value") == ["A"]
    assert form.xpath(".//input[@name='quantity']/@value") == ["twelve"]
    assert form.xpath(".//input[@id='f-express']/@checked") == ["checked"]
    assert engine.task(enter.id).state == "open"

    status, page = site.post(
        f"/app/tasks/{enter.id}/complete", {"customer": "Acme", "quantity": "500"}
    )
    assert status == 422
    assert _texts(page, "//*[@id='error-quantity']") == ["must be at most 100"]

    status, page = site.post(
        f"/app/tasks/{enter.id}/complete",
        {
            "customer": "Acme 公司",
            "quantity": "12",
            "express": ["false", "true"],
            "delivery": "2026-03-05",
            "channel": "phone",
        },
    )
    assert status == 200
    assert "Completed" in " ".join(_texts(page, "//p[@class='flash']"))
    assert engine.task(enter.id).state == "completed"
    assert engine.task(enter.id).completed_by == "alice"
    variables = engine.instance(instance.id).variables
    shown = ("customer", "quantity", "express", "delivery", "channel")
    assert {k: variables[k] for k in shown} == {
        "customer": "Acme 公司", "quantity": 12, "express": True, "delivery": "2026-03-05",
        "channel": "phone",
    }  # fmt: skip


def test_completing_is_refused_by_the_engine_to_a_user_who_may_not(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-6"}, user="bob")
    (enter,) = engine.tasks(instance_id=instance.id)
    engine.complete(enter.id, {"customer": "Acme", "quantity": 1}, user="alice")
    (approve,) = engine.tasks(instance_id=instance.id)
    site.login("carol")  # finance: no candidate
    status, page = site.post(f"/app/tasks/{approve.id}/complete", {})
    assert status == 403
    assert "may not act on task" in " ".join(_texts(page, "//*[@id='problem']"))
    site.login("bob")  # leadership, but he started it: the four-eyes rule excludes him
    status, page = site.post(f"/app/tasks/{approve.id}/complete", {})
    assert status == 403
    assert "excluded" in " ".join(_texts(page, "//*[@id='problem']"))
    assert engine.task(approve.id).state == "open"


def test_the_cockpit_counts_instances_and_an_incident_is_retried_from_its_page(
    site: Site, engine: flowdesk.Engine
) -> None:
    engine.start("web_order", {"order_no": "W-7"})
    failing = engine.start("web_booking")  # the process it calls is not deployed
    assert failing.state == "incident"
    site.login("bob")
    _, page = site.get("/app/processes")
    counts = {
        (str(row.get("data-key")), str(cell.get("data-count"))): cell.text_content().strip()
        for row in page.xpath("//table[@id='processes']//tr[@data-key]")
        for cell in row.xpath("./td[@data-count]")
    }
    assert counts[("web_order", "running")] == "1"
    assert counts[("web_order", "tasks")] == "1"
    assert counts[("web_booking", "incident")] == "1"
    assert counts[("web_booking", "running")] == "0"

    _, page = site.get("/app/instances?key=web_booking&state=incident")
    assert page.xpath("//table[@id='instances']//tr/@data-instance-id") == [failing.id]

    _, page = site.get(f"/app/instances/{failing.id}")
    assert "web_slots" in " ".join(_texts(page, "//*[@id='incident-message']"))
    (book,) = page.xpath("//svg//g[@data-element-id='Book']")
    assert book.get("data-state") == "incident"

    status, page = site.post(f"/app/instances/{failing.id}/retry", {})
    assert status == 200
    assert _texts(page, "//*[@id='instance-state']") == ["incident"]  # it fails again
    engine.deploy(DATA / "web_slots.bpmn")
    status, page = site.post(f"/app/instances/{failing.id}/retry", {})
    assert _texts(page, "//*[@id='instance-state']") == ["running"]
    (confirm,) = page.xpath("//svg//g[@data-element-id='Confirm']")
    assert (confirm.get("data-state"), confirm.get("data-waiting")) == ("waiting", "1")
    assert page.xpath("//svg//g[@data-element-id='Book']/@data-state") == ["completed"]
    assert [c.key for c in engine.instances(parent_id=failing.id, state="completed")] == [
        "web_slots"
    ]
    assert page.xpath("//section[@id='history']//tr/@data-event")[-1] == "task_created"


def test_an_instance_page_is_refused_when_the_read_policy_refuses_the_user(
    db_url: str, users: UserStore
) -> None:
    def leadership_only(request: flowdesk.ReadRequest) -> str | None:
        return None if "leadership" in users.groups_of(request.user) else "leadership only"

    with flowdesk.Engine(
        db_url, groups=request_groups(users.groups_of), read_authorizer=leadership_only
    ) as engine:
        engine.deploy(DATA / "web_order.bpmn")
        instance = engine.start("web_order", {"order_no": "W-8"})
        site = Site(engine, users)
        try:
            _check_read_policy(site, instance.id)
        finally:
            site.close()


def _check_read_policy(site: Site, instance_id: str) -> None:
    site.login("alice")
    status, page = site.get(f"/app/instances/{instance_id}")
    assert status == 403
    assert "leadership only" in " ".join(_texts(page, "//p[@role='alert']"))
    site.login("bob")
    status, page = site.get(f"/app/instances/{instance_id}")
    assert status == 200
    assert page.xpath("//tr[@data-variable='order_no']/td[2]/text()") == ["W-8"]


def test_an_unknown_task_or_page_is_a_404_page_not_a_trace(site: Site) -> None:
    site.login("alice")
    status, page = site.get("/app/tasks/no-such-task")
    assert status == 404
    assert _texts(page, "//h1") == ["Not found"]
    status, page = site.get("/app/nowhere")
    assert status == 404


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_report_page_charts_the_time_per_task_and_names_the_bottleneck(
    db_url: str, users: UserStore
) -> None:
    clock = _Clock()
    with flowdesk.Engine(db_url, groups=request_groups(users.groups_of), clock=clock) as engine:
        engine.deploy(DATA / "web_order.bpmn")
        for enter_hours, approve_days in ((2, 1), (4, 3)):
            instance = engine.start("web_order", {"order_no": "W"})
            (enter,) = engine.tasks(instance_id=instance.id)
            clock.now += timedelta(hours=enter_hours)
            engine.complete(enter.id, {"customer": "Acme", "quantity": 1}, user="alice")
            (approve,) = engine.tasks(instance_id=instance.id)
            clock.now += timedelta(days=approve_days)
            engine.complete(approve.id, {}, user="bob")
        engine.start("web_order", {"order_no": "W"})  # still running
        site = Site(engine, users)
        try:
            site.login("bob")
            _, page = site.get("/app/processes")
            (link,) = page.xpath("//tr[@data-key='web_order']//a[text()='Report']/@href")
            _, page = site.get(str(link))
        finally:
            site.close()
    counts = {str(n.get("data-count")): n.text_content() for n in page.xpath("//dd[@data-count]")}
    assert counts == {"started": "3", "completed": "2", "running": "1", "terminated": "0",
                      "incidents": "0"}  # fmt: skip
    rows = {
        str(row.get("data-element-id")): [" ".join(c.text_content().split()) for c in row[:4]]
        for row in page.xpath("//table[@id='steps']//tr[@data-element-id]")
    }
    assert rows == {
        # p90 interpolates between the two (statistics.quantiles, inclusive): 2 h + 0.9 * 2 h
        "Enter": ["Enter order 录入订单", "2", "3 h", "3 h 48 min"],
        "Approve": ["Approve order 审批订单 (bottleneck)", "2", "2 d", "2 d 19 h 12 min"],
    }
    widths = page.xpath("//table[@id='steps']//div[@class='bar']/@style")
    assert widths == ["width: 6.2%", "width: 100.0%"]  # 3 h of 2 days, and the longest
    assert page.xpath("//tr[@class='bottleneck']/@data-element-id") == ["Approve"]


def test_completing_a_task_someone_completed_meanwhile_says_so(
    site: Site, engine: flowdesk.Engine
) -> None:
    instance = engine.start("web_order", {"order_no": "W-9"})
    (enter,) = engine.tasks(instance_id=instance.id)
    site.login("alice")
    _, page = site.get(f"/app/tasks/{enter.id}")  # the form is open in her browser
    engine.complete(enter.id, {"customer": "Acme", "quantity": 2}, user="dave")
    status, page = site.post(
        f"/app/tasks/{enter.id}/complete", {"customer": "Other", "quantity": "3"}
    )
    assert status == 409
    assert "it is completed" in " ".join(_texts(page, "//*[@id='problem']"))
    assert _texts(page, "//*[@id='task-state']") == ["completed"]
    assert engine.instance(instance.id).variables["customer"] == "Acme"
