"""Record-level read authorization: who may read an instance's variables, history and documents.

Camunda 7 checks READ permissions on process instances for the authenticated user when
authorization is enabled, and refuses a single-object read with an `AuthorizationException`.
flowdesk leaves the policy to the application: an `Engine` built with a `read_authorizer`
(or whose `HandlerRegistry` has one, from an entry point) consults it before
`Engine.instance`, `Engine.history` and `Engine.documents` return anything to a named `user`,
and raises `ReadNotAuthorized` when it refuses. A call without `user` is a trusted system
call, as everywhere in the API, and is not checked.

A policy is any callable `(ReadRequest) -> str | None`: None allows, a text refuses and says
why. It may query the engine it is given (`request.engine`); those queries are trusted calls
and are not checked again. `flowdesk.processes.customers.archive_policy` is the one the
shipped processes use (seed 003, 客户档案查阅).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from flowdesk._records import ProcessInstance

if TYPE_CHECKING:
    from flowdesk._engine import Engine

ReadResource = Literal["instance", "history", "documents"]
"""What a read asks for: the instance with its variables, its history, or its documents."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadRequest:
    """One read the engine asks a `ReadAuthorizer` about.

    Attributes:
        user: Who reads (the call's `user`).
        instance: The instance read, with its variables as stored now.
        resource: "instance", "history" or "documents".
        now: The engine's clock.
        engine: The engine, for the policy's own (unchecked) queries.
    """

    user: str
    instance: ProcessInstance
    resource: ReadResource
    now: datetime
    engine: Engine


ReadAuthorizer = Callable[[ReadRequest], str | None]
"""A read policy: None allows the read; a text refuses it, and becomes the error's reason."""
