"""The pieces every endpoint is made of: an `Operation` (method, Camunda path, handler and
what the OpenAPI document says about it) and the `Call` its handler receives.

Handlers are plain functions run in a worker thread (the Engine's calls block on the
database), or `async` functions run on the event loop for those that wait (long polling),
which run their Engine calls in a worker thread themselves. They return a JSON value (200),
`Reply` for another status, or None (204).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

import flowdesk
from flowdesk.server.auth import Identity
from flowdesk.server.rest_errors import RestError


@dataclass(frozen=True)
class Reply:
    """A response other than 200 with JSON or 204: a status, a body, a media type."""

    status: int
    body: Any = None
    media_type: str = "application/json"


@dataclass
class Call:
    """One request as a handler sees it."""

    engine: flowdesk.Engine
    identity: Identity
    path: Mapping[str, str]
    query: QueryParams
    body: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    base: str = "/engine-rest"
    # Whether the client has gone away (for a handler that waits: long polling).
    disconnected: Callable[[], Awaitable[bool]] | None = None

    @property
    def user(self) -> str:
        return self.identity.user

    def option(self, name: str) -> Any:
        """A filter from the JSON body of a POST query, else from the query string."""
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        return self.query.get(name)

    def text(self, name: str) -> str | None:
        return checked_text(self.option(name), name)

    def flag(self, name: str) -> bool | None:
        value = self.option(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise RestError.invalid(f"Cannot set query parameter '{name}' to value '{value}'")

    def number(self, name: str, *, minimum: int = 0) -> int | None:
        """A whole-number parameter (`firstResult`, `maxResults`...), from the query string."""
        value = self.query.get(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise RestError.invalid(
                f"Cannot set query parameter '{name}' to value '{value}'"
            ) from None
        if number < minimum:
            raise RestError.invalid(f"{name} must be at least {minimum}")
        return number

    def page(self, items: list[Any]) -> list[Any]:
        """Camunda's paging: `firstResult` items skipped, at most `maxResults` returned."""
        first = self.number("firstResult") or 0
        most = self.number("maxResults")
        return items[first:] if most is None else items[first : first + most]

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise RestError.invalid("the request body must be a JSON object")
        return self.body


def checked_text(value: Any, name: str) -> str | None:
    """A text parameter: None, or text a database can hold (no NUL, which PostgreSQL refuses
    in any text, nor lone surrogates; a database error must not be what tells the caller)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RestError.invalid(f"{name} must be text")
    if "\x00" in value:
        raise RestError.invalid(f"{name} must not hold a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a JSON escape
        raise RestError.invalid(f"{name} must be valid Unicode text") from None
    return value


Handler = Callable[[Call], Any]

# OpenAPI types of query parameters.
STRING, BOOLEAN, INTEGER = "string", "boolean", "integer"


@dataclass(frozen=True)
class Operation:
    """One endpoint: its route and its description in the OpenAPI document.

    `responses` maps each status to the schema name of its JSON body (None: no body; "xml" or
    "json-any" for the special bodies); `body` names the request body's schema
    ("multipart" for the deployment upload).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    query: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    responses: Mapping[int, str | None] = field(default_factory=dict)
    paged: bool = False

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")
