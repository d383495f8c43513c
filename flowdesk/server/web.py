"""The web pages under `/app`: a tasklist for the people who do the work, and a cockpit.

Server-rendered HTML (Jinja2 templates shipped in `flowdesk/server/templates/`, one small
stylesheet, no JavaScript): every action is a plain form post, so the pages work in any
browser and are tested in a real one (tests/server/test_web_browser.py).

Who the visitor is: the login form checks the user and password with the same
`Authenticator` the REST API uses (they are sent to it as the HTTP Basic header a REST client
would send), and the identity is kept in a signed session cookie (Starlette's
`SessionMiddleware`). A request without a session is given to the authenticator as it is, so
an authenticator that trusts a single-sign-on proxy's header needs no login form either.

What the visitor may do is the engine's decision: every call that acts or reads for a user
passes `user=` (claim, unclaim, complete, retry, instance, history, documents), with the
visitor's groups current (`auth.run_as`), exactly as the REST API calls it. Every post
carries a per-session token against cross-site request forgery.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import flowdesk
from flowdesk.server import web_forms
from flowdesk.server.auth import Authenticator, Identity, run_as

PREFIX = "/app"
SESSION_COOKIE = "flowdesk_session"
SESSION_HOURS = 8
# The diagram's zoom levels (percent of the Modeler's size, or the page's width).
ZOOMS = ("50", "75", "100", "fit")
# Lists show the newest this many; the page says when there are more.
LIST_LIMIT = 200
_log = logging.getLogger("flowdesk.server.web")
T = TypeVar("T")


@dataclass(frozen=True)
class _Page:
    """What a handler hands back: a template and its values, or a redirect."""

    template: str | None = None
    values: Mapping[str, Any] | None = None
    status: int = 200
    redirect: str | None = None
    flash: str | None = None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flowdesk.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a template mistake fails its test, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["shown"] = _shown_value
    env.filters["duration"] = _duration
    env.globals["prefix"] = PREFIX
    return env


def _when(moment: datetime | None) -> str:
    """A time as the pages show it: UTC, to the minute (seconds in the history's title)."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(span: timedelta | None) -> str:
    """A duration as people read it: days, hours and minutes (seconds when under a minute)."""
    if span is None:
        return ""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p and not (p == "0 min" and (days or hours)))


def _shown_value(value: Any) -> str:
    """A variable's value in a table cell: text as it is, anything else as JSON-like text."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, int | float) else str(value)


def _stylesheet() -> bytes:
    return resources.files("flowdesk.server").joinpath("static/web.css").read_bytes()


def create_web_app(
    engine: flowdesk.Engine, authenticator: Authenticator, *, secret: str | None = None
) -> Starlette:
    """The web pages on `engine`, its visitors identified by `authenticator`, mounted by
    `create_app` at `/app`.

    `secret` signs the session cookie; None makes a random one, so sessions end when the
    process does (and several server processes behind one address need the same secret).
    """
    env = _environment()
    stylesheet = _stylesheet()
    secret = secret or secrets.token_urlsafe(32)

    def render(request: Request, page: _Page, identity: Identity | None) -> Response:
        session = request.session
        if page.flash:
            session.setdefault("flash", []).append(page.flash)
        if page.redirect is not None:
            return RedirectResponse(page.redirect, status_code=303)
        assert page.template is not None
        values = dict(page.values or {})
        values.setdefault("identity", identity)
        values["csrf"] = _csrf(session)
        values["flash"] = session.pop("flash", [])
        html = env.get_template(page.template).render(values)
        return HTMLResponse(html, status_code=page.status)

    def error_page(request: Request, identity: Identity | None, status: int, text: str) -> Response:
        page = _Page("error.html", {"status": status, "message": text}, status=status)
        return render(request, page, identity)

    async def identify(request: Request) -> Identity | None:
        user = request.session.get("user")
        if isinstance(user, str) and user:
            groups = request.session.get("groups") or []
            return Identity(user, tuple(str(g) for g in groups))
        # No session: the authenticator may know the visitor anyway (a proxy's header, or a
        # browser that sends Basic credentials).
        return await run_in_threadpool(authenticator.authenticate, request)

    def page(
        handler: Callable[[Request, Identity, Mapping[str, list[str]]], _Page],
        *,
        post: bool = False,
    ) -> Callable[[Request], Any]:
        """An endpoint: identify the visitor (else to the login page), check the post's token,
        run the handler in a worker thread as the visitor, and render what it returns."""

        async def endpoint(request: Request) -> Response:
            identity = await identify(request)
            if identity is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(
                    f"{PREFIX}/login?next={quote(target, safe='/')}", status_code=303
                )
            form: dict[str, list[str]] = {}
            if post:
                form = await _form(request)
                if not _csrf_ok(request.session, form):
                    return error_page(
                        request, identity, 403, "The form is out of date; reload and try again."
                    )
            try:
                result = await run_in_threadpool(
                    run_as, identity, lambda: handler(request, identity, form)
                )
            except flowdesk.FlowdeskError as err:
                return error_page(request, identity, _status(err), str(err))
            except Exception:  # a bug: logged in full, shown without a trace
                _log.exception("%s %s failed", request.method, request.url.path)
                return error_page(request, identity, 500, "Internal error; see the server log.")
            return render(request, result, identity)

        endpoint.__name__ = handler.__name__
        return endpoint

    # -- login -------------------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        next_url = _local(request.query_params.get("next"))
        values = {"next": next_url, "error": None, "user": "", "identity": None}
        return render(request, _Page("login.html", values), None)

    async def login(request: Request) -> Response:
        form = await _form(request)
        next_url = _local(_one(form, "next"))
        user, password = _one(form, "user"), _one(form, "password")
        if not _csrf_ok(request.session, form):
            values = {"next": next_url, "error": "The form is out of date; try again.",
                      "user": user, "identity": None}  # fmt: skip
            return render(request, _Page("login.html", values, status=403), None)
        identity = None
        if user and ":" not in user:
            identity = await run_in_threadpool(
                authenticator.authenticate, _basic_connection(request, user, password)
            )
        if identity is None or identity.user != user:
            values = {"next": next_url, "error": "Unknown user or wrong password.",
                      "user": user, "identity": None}  # fmt: skip
            return render(request, _Page("login.html", values, status=401), None)
        request.session.clear()  # a fresh session (and token) for the new identity
        request.session.update({"user": identity.user, "groups": list(identity.groups)})
        return RedirectResponse(next_url, status_code=303)

    async def logout(request: Request) -> Response:
        form = await _form(request)
        if _csrf_ok(request.session, form):
            request.session.clear()
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    async def css(request: Request) -> Response:
        return Response(stylesheet, media_type="text/css")

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/tasks", status_code=303)

    # -- tasklist ----------------------------------------------------------------------------

    def tasklist(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        user = identity.user
        mine = engine.tasks(assignee=user)
        offered = [t for t in engine.tasks(candidate_user=user) if t.assignee is None]
        # A task with no assignee and no candidates is open to everyone (docs/concepts.md).
        anyone = [
            t
            for t in engine.tasks()
            if t.assignee is None and not t.candidate_users and not t.candidate_groups
        ]
        return _Page(
            "tasks.html",
            {"sections": [
                ("Assigned to me", "mine", mine),
                ("Offered to me and my groups", "offered", offered),
                ("Open to anyone", "anyone", anyone),
            ]},
        )  # fmt: skip

    def task_page(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        task = engine.task(request.path_params["task_id"])
        values = _task_values(task, identity)
        return _Page("task.html", values)

    def _task_values(
        task: flowdesk.Task,
        identity: Identity,
        *,
        entered: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        problem: str | None = None,
    ) -> dict[str, Any]:
        variables: dict[str, Any] = {}
        documents: list[flowdesk.Document] = []
        read_refused = None
        try:
            variables = engine.instance(task.instance_id, user=identity.user).variables
            documents = engine.documents(task.instance_id, user=identity.user)
        except flowdesk.ReadNotAuthorized as err:
            read_refused = err.reason
        if entered is None:
            entered = web_forms.initial_values(task.form_fields, variables)
        fields = web_forms.field_views(task.form_fields, entered, errors)
        field_ids = {f.id for f in task.form_fields}
        other_errors = {k: v for k, v in (errors or {}).items() if k not in field_ids}
        return {
            "task": task,
            "fields": fields,
            "other_errors": other_errors,
            "problem": problem,
            "documents": documents,
            "read_refused": read_refused,
        }

    def claim(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        task = engine.claim(request.path_params["task_id"], user=identity.user)
        return _Page(redirect=_back(form, task), flash=f"You hold “{task.name}” now.")

    def unclaim(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        task = engine.unclaim(request.path_params["task_id"], user=identity.user)
        return _Page(redirect=_back(form, task), flash=f"You gave “{task.name}” back.")

    def complete(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        task = engine.task(request.path_params["task_id"])
        data, entered = web_forms.submitted(task.form_fields, form)
        try:
            engine.complete(task.id, data, user=identity.user)
        except flowdesk.FormValidationError as err:
            values = _task_values(task, identity, entered=entered, errors=err.errors)
            return _Page("task.html", values, status=422)
        except flowdesk.FlowdeskError as err:  # not allowed, completed meanwhile, too large...
            # The page again, with what was typed, and the engine's reason above the form.
            task = engine.task(task.id)
            values = _task_values(task, identity, entered=entered, problem=str(err))
            return _Page("task.html", values, status=_status(err))
        return _Page(redirect=f"{PREFIX}/tasks", flash=f"Completed “{task.name}”.")

    # -- cockpit -----------------------------------------------------------------------------

    def processes(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        definitions = [d for d in engine.definitions() if d.kind == "process"]
        decisions = [d for d in engine.definitions() if d.kind == "decision"]
        states: Counter[tuple[str, str]] = Counter(
            (i.key, i.state) for i in engine.instances(state="all")
        )
        open_tasks = Counter(t.process_key for t in engine.tasks())
        rows = [
            {
                "definition": d,
                "running": states[(d.key, "running")],
                "incident": states[(d.key, "incident")],
                "completed": states[(d.key, "completed")],
                "terminated": states[(d.key, "terminated")],
                "tasks": open_tasks[d.key],
            }
            for d in definitions
        ]
        return _Page("processes.html", {"rows": rows, "decisions": decisions})

    def report(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        key = request.path_params["key"]
        found = engine.report(key)
        longest = max((step.median for step in found.steps), default=None)
        bars = [
            {
                "step": step,
                "share": 100 * step.median / longest if longest else 0,
                "bottleneck": found.bottleneck is not None
                and step.element_id == found.bottleneck.element_id,
            }
            for step in found.steps
        ]
        return _Page("report.html", {"report": found, "bars": bars})

    def instances(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        key = request.query_params.get("key") or None
        state = request.query_params.get("state") or "all"
        found = engine.instances(key=key, state=state)
        found.reverse()  # the newest first
        return _Page(
            "instances.html",
            {"instances": found[:LIST_LIMIT], "more": max(0, len(found) - LIST_LIMIT),
             "key": key, "state": state,
             "states": ["all", "running", "incident", "completed", "terminated"]},
        )  # fmt: skip

    def instance_page(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        instance_id = request.path_params["instance_id"]
        instance = engine.instance(instance_id, user=identity.user)
        history = engine.history(instance_id, user=identity.user)
        documents = engine.documents(instance_id, user=identity.user)
        diagram, diagram_problem, width = None, None, "100%"
        zoom = request.query_params.get("zoom", "100")
        zoom = zoom if zoom in ZOOMS else "100"
        try:
            svg = engine.diagram(instance_id)
            diagram = Markup(svg)  # flowdesk's own SVG: names escaped, no script or link
            width = _zoomed_width(svg, zoom)
        except flowdesk.DiagramError as err:
            diagram_problem = err.reason
        jobs = engine.jobs(instance_id=instance_id)
        return _Page(
            "instance.html",
            {
                "instance": instance,
                "variables": sorted(instance.variables.items()),
                "history": history,
                "documents": documents,
                "diagram": diagram,
                "diagram_problem": diagram_problem,
                "diagram_width": width,
                "zoom": zoom,
                "zooms": ZOOMS,
                "tasks": engine.tasks(instance_id=instance_id),
                "waits": engine.waits(instance_id),
                "jobs": jobs,
                "failed_jobs": [j for j in jobs if j.state == "failed"],
                "incident_at": next(
                    (e.element_id for e in reversed(history) if e.type == "incident"), None
                ),
                "children": engine.instances(parent_id=instance_id, state="all"),
            },
        )

    def retry(request: Request, identity: Identity, form: Mapping[str, list[str]]) -> _Page:
        instance_id = request.path_params["instance_id"]
        instance = engine.retry(instance_id, user=identity.user)
        text = (
            "The failed step ran again and failed again."
            if instance.state == "incident"
            else "The failed step ran again."
        )
        return _Page(redirect=f"{PREFIX}/instances/{instance_id}", flash=text)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = "No such page." if status == 404 else "The request was not understood."
        page = _Page("error.html", {"status": status, "message": text, "identity": None},
                     status=status)  # fmt: skip
        return render(request, page, None)

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/static/web.css", css, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/tasks", page(tasklist), methods=["GET"]),
        Route("/tasks/{task_id}", page(task_page), methods=["GET"]),
        Route("/tasks/{task_id}/claim", page(claim, post=True), methods=["POST"]),
        Route("/tasks/{task_id}/unclaim", page(unclaim, post=True), methods=["POST"]),
        Route("/tasks/{task_id}/complete", page(complete, post=True), methods=["POST"]),
        Route("/processes", page(processes), methods=["GET"]),
        Route("/processes/{key}/report", page(report), methods=["GET"]),
        Route("/instances", page(instances), methods=["GET"]),
        Route("/instances/{instance_id}", page(instance_page), methods=["GET"]),
        Route("/instances/{instance_id}/retry", page(retry, post=True), methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                path=PREFIX,
                same_site="lax",
            )
        ],
        exception_handlers={HTTPException: not_found},
    )


def _zoomed_width(svg: str, zoom: str) -> str:
    """The CSS width of the diagram at `zoom`: a share of the width the SVG declares (the
    Modeler's pixels), or the page's width for "fit"."""
    if zoom == "fit":
        return "100%"
    found = re.search(r'<svg\b[^>]*?\swidth="([0-9.]+)', svg)
    if found is None:
        return "100%"
    return f"{float(found.group(1)) * int(zoom) / 100:.0f}px"


def _status(err: flowdesk.FlowdeskError) -> int:
    if isinstance(err, flowdesk.NotFound):
        return 404
    if isinstance(err, flowdesk.NotAuthorized | flowdesk.ReadNotAuthorized):
        return 403
    if isinstance(err, flowdesk.TaskStateError | flowdesk.InstanceStateError):
        return 409
    if isinstance(err, flowdesk.ConcurrencyConflict):
        return 409
    return 400


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted fields, each with all its values (a checkbox posts two)."""
    try:
        form = await request.form(max_files=0, max_fields=1000)
    except Exception:  # Starlette's parser errors: a malformed post
        raise HTTPException(400) from None
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    await form.close()
    return fields


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[-1]


def _csrf(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _csrf_ok(session: dict[str, Any], form: Mapping[str, list[str]]) -> bool:
    token = session.get("csrf")
    sent = _one(form, "csrf")
    return isinstance(token, str) and bool(sent) and hmac.compare_digest(token, sent)


def _local(target: str | None) -> str:
    """Where to go after logging in: a page of this app only (never another site)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/tasks"


def _back(form: Mapping[str, list[str]], task: flowdesk.Task) -> str:
    """Back to the page the button was on: the list, or the task's own page."""
    return f"{PREFIX}/tasks" if _one(form, "back") == "list" else f"{PREFIX}/tasks/{task.id}"


def _basic_connection(request: Request, user: str, password: str) -> HTTPConnection:
    """The login form's credentials as the HTTP Basic request a REST client would send, so
    the authenticator the REST API uses checks them, its caching and all."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers = [(b"authorization", f"Basic {credentials}".encode("ascii"))]
    scope = {
        "type": "http",
        "method": "GET",
        "path": request.url.path,
        "headers": headers,
        "query_string": b"",
        "client": request.client and (request.client.host, request.client.port),
        "server": None,
        "scheme": request.url.scheme,
    }
    return HTTPConnection(scope)
