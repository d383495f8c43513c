"""The ASGI application: Camunda 7's REST paths under `/engine-rest`, on an `Engine`.

Every request but `GET /engine-rest/openapi.json` is authenticated first (anonymous: 401 with
`WWW-Authenticate`); its handler then runs in a worker thread with the caller's identity
current (see `auth.request_groups`), and every Engine call that acts as a user is given the
authenticated user. Failures become Camunda's error JSON; an unexpected one is logged with
its traceback and answered with a 500 that holds no trace.
"""

from __future__ import annotations

import inspect
import json
import logging
from importlib import metadata
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

import flowdesk
from flowdesk.server import (
    external_task_routes,
    history_routes,
    repository_routes,
    runtime_routes,
    task_routes,
)
from flowdesk.server.auth import Authenticator, run_as
from flowdesk.server.openapi import document
from flowdesk.server.operations import Call, Operation, Reply, checked_text
from flowdesk.server.rest_errors import RestError, from_flowdesk
from flowdesk.server.web import create_web_app

BASE = "/engine-rest"
_log = logging.getLogger("flowdesk.server")

# Every operation the server has.
OPERATIONS: list[Operation] = [
    *repository_routes.OPERATIONS,
    *runtime_routes.OPERATIONS,
    *task_routes.OPERATIONS,
    *history_routes.OPERATIONS,
    *external_task_routes.OPERATIONS,
]


def _error(err: RestError) -> Response:
    return JSONResponse(err.body(), status_code=err.status)


def _unauthorized() -> Response:
    return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="flowdesk"'})


def _endpoint(engine: flowdesk.Engine, authenticator: Authenticator, op: Operation) -> Any:
    async def endpoint(request: Request) -> Response:
        identity = None
        try:
            identity = await run_in_threadpool(authenticator.authenticate, request)
            if identity is None:
                return _unauthorized()
            path = {k: checked_text(v, k) or "" for k, v in request.path_params.items()}
            call = Call(
                engine=engine,
                identity=identity,
                path=path,
                query=request.query_params,
                base=str(request.base_url).rstrip("/") + BASE,
                disconnected=request.is_disconnected,
            )
            if op.body == "multipart":
                await _read_form(request, call)
            elif op.body is not None:
                call.body = await _read_json(request)
            if inspect.iscoroutinefunction(op.handler):  # it waits on the loop (long polling)
                result = await op.handler(call)
            else:
                result = await run_in_threadpool(run_as, identity, lambda: op.handler(call))
        except RestError as err:
            return _error(err)
        except flowdesk.FlowdeskError as err:
            return _error(from_flowdesk(err, identity.user if identity else None))
        except Exception:  # anything else is a bug: logged in full, answered without a trace
            _log.exception("%s %s failed", request.method, request.url.path)
            return _error(
                RestError(500, "ProcessEngineException", "internal error; see the server log")
            )
        if result is None:
            return Response(status_code=204)
        if isinstance(result, Reply):
            if result.body is None:
                return Response(status_code=result.status)
            return JSONResponse(result.body, status_code=result.status)
        return JSONResponse(result)

    endpoint.__name__ = op.handler.__name__
    return endpoint


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RestError.invalid("the request body is no valid JSON") from None


async def _read_form(request: Request, call: Call) -> None:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RestError.invalid("a deployment is uploaded as multipart/form-data")
    try:
        form = await request.form(max_files=1000, max_fields=100)
    except Exception as err:  # Starlette's parser errors: a malformed upload
        raise RestError.invalid(f"cannot read the upload: {err}") from None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            call.files.append((value.filename or name, await value.read()))
        elif name in repository_routes.SETTINGS:
            call.form[name] = value
        else:  # a resource sent as a plain field (some clients do): its name is the field's
            call.files.append((name, value.encode("utf-8")))
    await form.close()


def create_app(
    engine: flowdesk.Engine, authenticator: Authenticator, *, session_secret: str | None = None
) -> Starlette:
    """The REST API on `engine`, its callers identified by `authenticator`, and the web pages
    at `/app` (see docs/web.md; `session_secret` signs their session cookie, None: a random
    secret per application).

    Build the engine with `groups=flowdesk.server.request_groups(...)` so that candidate
    groups and four-eyes rules see the groups the authenticator gave the caller. The
    application does not close the engine.
    """
    spec = document(OPERATIONS, version=_version())

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    routes: list[BaseRoute] = [Route(f"{BASE}/openapi.json", openapi, methods=["GET"])]
    routes += [
        Route(BASE + op.path, _endpoint(engine, authenticator, op), methods=[op.method])
        for op in OPERATIONS
    ]
    routes.append(Mount("/app", app=create_web_app(engine, authenticator, secret=session_secret)))
    routes.append(Route("/", lambda request: RedirectResponse("/app/"), methods=["GET"]))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = "NotFoundException" if status == 404 else "RestException"
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return _error(RestError(status, kind, f"{request.method} {request.url.path}: {detail}"))

    async def server_error(request: Request, exc: Exception) -> Response:
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(RestError(500, "ProcessEngineException", "internal error; see the log"))

    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


def _version() -> str:
    try:
        return metadata.version("flowdesk")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0"
