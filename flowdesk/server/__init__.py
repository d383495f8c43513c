"""`flowdesk.server`: Camunda 7's REST API (`/engine-rest`) on a flowdesk `Engine`.

`create_app(engine, authenticator)` gives an ASGI application (Starlette) that any ASGI
server runs; `flowdesk serve` runs it with uvicorn. Callers authenticate with HTTP Basic
against a `UserStore` (`BasicAuthenticator`), or through the embedding application's own
`Authenticator`. See docs/rest-api.md. The same application serves the web tasklist and
cockpit under `/app` (`flowdesk.server.web`, docs/web.md); people log in there with the same
users and authenticator.

Needs the `server` extra: `pip install 'flowdesk[server]'`.
"""

from __future__ import annotations

from flowdesk.server.app import OPERATIONS, create_app
from flowdesk.server.auth import (
    Authenticator,
    BasicAuthenticator,
    Identity,
    UserStore,
    current_identity,
    hash_password,
    request_groups,
    verify_password,
)

__all__ = [
    "OPERATIONS",
    "Authenticator",
    "BasicAuthenticator",
    "Identity",
    "UserStore",
    "create_app",
    "current_identity",
    "hash_password",
    "request_groups",
    "verify_password",
]
