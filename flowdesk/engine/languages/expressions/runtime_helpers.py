"""The names translated JUEL calls, which the sandbox must provide as globals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowdesk.engine.languages.expressions.el_members import MEMBER_HELPERS
from flowdesk.engine.languages.expressions.el_operators import OPERATOR_HELPERS
from flowdesk.engine.languages.expressions.execution_view import juel_execution

SCOPE_NAME = "juel_scope"
"""The name under which the sandbox gives translated code its own namespace (a dict)."""

RUNTIME_HELPERS: dict[str, Callable[..., Any]] = {
    **OPERATOR_HELPERS,
    **MEMBER_HELPERS,
    "juel_execution": juel_execution,
}
"""Functions that translated source calls; the sandbox must provide them as globals."""
