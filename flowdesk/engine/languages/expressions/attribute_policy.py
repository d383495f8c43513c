"""Which attributes of an object sandboxed code may read: the one rule JUEL and Python share.

The sandbox's `_getattr_` guard (Python expressions and scripts) and JUEL's property and method
access both ask `check_attribute` before `getattr`, so a JUEL expression can reach nothing that
a Python expression could not.
"""

from __future__ import annotations

import string
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES


class AttributeRefused(Exception):
    """Running code reached for an attribute the sandbox forbids."""


def check_attribute(obj: Any, name: object) -> str:
    """Refuse private, introspection and format-string attributes; return the name.

    Raises:
        AttributeRefused: `name` starts with `_`, is a frame or code attribute, is
            `str.format`/`format_map` (format strings reach `_` names without an attribute
            access the compiler could see), or `obj` is a `string.Formatter`.
    """
    if not isinstance(name, str):
        raise AttributeRefused("attribute names must be strings")
    if name.startswith("_"):
        raise AttributeRefused(f"attribute {name!r} is not allowed (it starts with '_')")
    if name in INSPECT_ATTRIBUTES:
        raise AttributeRefused(f"attribute {name!r} is not allowed")
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        raise AttributeRefused(f"str.{name}() is not allowed; use an f-string")
    if isinstance(obj, string.Formatter) or obj is string.Formatter:
        raise AttributeRefused("string.Formatter is not allowed")
    return name
