"""Run-time helpers for the FEEL constructs that open a scope of names: contexts, list filters
and indexes, `for`, `some` and `every`, and ranges.

The translator (`feel.py`) turns the inner expression of each into a Python `lambda dmn_vars:
...`, whose parameter shadows the outer variables; these helpers call it with the outer
variables plus the new names (a `ChainMap`, so nothing is copied and the outer names stay
visible, as FEEL's scoping says). Like `functions.py`, they raise `FeelError` for what FEEL
rejects and name types, never values.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowdesk.engine.dmn.functions import FeelError, is_number, type_name
from flowdesk.engine.languages import limits

Scope = Mapping[str, Any]
Inner = Callable[[Scope], Any]


def context(entries: Sequence[tuple[str, Inner]], outer: Scope) -> dict[str, Any]:
    """`{a: 1, b: a + 1}`: each entry may read the entries before it."""
    result: dict[str, Any] = {}
    scope = ChainMap(result, dict(outer))
    for key, value in entries:
        result[key] = value(scope)
    return result


def select(value: Any, inner: Inner, outer: Scope) -> Any:
    """`list[...]`: an index when the brackets give a number (1 is the first item, -1 the last;
    out of range is null), else a filter keeping the items for which they give `true`.

    Inside the brackets `item` is the item, and a context item's entries are names too. A
    value that is not a list is a list of one, as in FEEL.
    """
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        probe = inner(ChainMap({"item": None}, dict(outer)))
        return None if is_number(probe) else []
    kept = []
    base = dict(outer)
    for position, element in enumerate(items):
        verdict = inner(_item_scope(element, base))
        if position == 0 and is_number(verdict):
            return _index(items, verdict)
        if verdict is True:
            kept.append(element)
    return kept


def for_each(domains: Sequence[tuple[str, Inner]], body: Inner, outer: Scope) -> list[Any]:
    """`for x in a, y in b return e`: e for every combination, in order, as one flat list."""
    results: list[Any] = []
    _iterate(domains, outer, lambda scope: results.append(body(scope)))
    return results


def quantify(kind: str, domains: Sequence[tuple[str, Inner]], test: Inner, outer: Scope) -> Any:
    """`some x in a satisfies t` / `every x in a satisfies t` (null when no verdict decides)."""
    verdicts: list[Any] = []
    _iterate(domains, outer, lambda scope: verdicts.append(test(scope)))
    if kind == "some":
        if any(v is True for v in verdicts):
            return True
        return False if all(v is False for v in verdicts) else None
    if any(v is False for v in verdicts):
        return False
    return True if all(v is True for v in verdicts) else None


def number_range(low: Any, high: Any) -> list[int]:
    """`1..3` as an iteration domain of `for`: the whole numbers from low to high, either way."""
    if not (is_number(low) and is_number(high)) or low != int(low) or high != int(high):
        raise FeelError(
            f"a range to iterate needs whole numbers, not a {type_name(low)} and a "
            f"{type_name(high)}"
        )
    step = 1 if high >= low else -1
    numbers = range(int(low), int(high) + step, step)
    limits.check_allocation(len(numbers) * 8, "a FEEL range")  # `1..10000000000`
    return list(numbers)


# --- helpers ------------------------------------------------------------------------------


def _item_scope(element: Any, base: dict[str, Any]) -> Scope:
    names: dict[str, Any] = dict(element) if isinstance(element, Mapping) else {}
    names["item"] = element
    return ChainMap(names, base)


def _index(items: list[Any], position: Any) -> Any:
    if position != int(position):
        raise FeelError("a list index must be a whole number")
    index = int(position)
    if index == 0 or abs(index) > len(items):
        return None
    return items[index - 1] if index > 0 else items[index]


def _iterate(
    domains: Sequence[tuple[str, Inner]], outer: Scope, visit: Callable[[Scope], None]
) -> None:
    if not domains:
        visit(outer)
        return
    (name, domain), rest = domains[0], domains[1:]
    values = domain(outer)
    if values is None:
        return
    for value in values if isinstance(values, list | tuple) else [values]:
        _iterate(rest, ChainMap({name: value}, dict(outer)), visit)


HELPERS: dict[str, Callable[..., Any]] = {
    "dmn_context": context,
    "dmn_select": select,
    "dmn_for": for_each,
    "dmn_quantify": quantify,
    "dmn_range": number_range,
}
"""The names translated FEEL uses for these constructs (merged into `functions.HELPERS`)."""
