"""The EL helpers that translated source calls, and the names the sandbox must provide."""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any


def juel_empty(value: object) -> bool:
    """EL's `empty` operator: true for `None`, an empty string and an empty collection."""
    return value is None or (isinstance(value, Sized) and len(value) == 0)


def juel_str(value: object) -> str:
    """EL's coercion to string for composite texts: `None` -> `''`, booleans in lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


SCOPE_NAME = "juel_scope"
"""The name under which the sandbox gives translated code its own namespace (a dict)."""

RUNTIME_HELPERS: dict[str, Callable[..., Any]] = {
    "juel_empty": juel_empty,
    "juel_str": juel_str,
}
"""Functions that translated source calls; the sandbox must provide them as globals."""
