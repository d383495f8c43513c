"""How a task tells which variables it changed: fingerprints of the values it started with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowdesk.engine.spiff.task_data import fingerprint_value, unchanged


@pytest.mark.parametrize(
    "value",
    [0, -5, 10**30, True, False, None, 1.5, -0.0, 1e300, 2.0, float("nan"), float("inf"), [1]],
)
def test_a_fingerprint_is_the_values_json_text_as_stored_before(value: Any) -> None:
    """A waiting task keeps its fingerprints in the stored state: a fingerprint written by an
    earlier flowdesk must still say "unchanged" for the same value."""
    earlier = json.dumps(value, sort_keys=True, default=repr)
    assert fingerprint_value(value) == earlier
    assert unchanged(value, earlier)


def test_a_value_changed_in_place_or_in_type_is_changed() -> None:
    items = [1, 2]
    before = fingerprint_value(items)
    items.append(3)
    assert not unchanged(items, before)
    assert not unchanged(True, fingerprint_value(1))
    assert not unchanged(1.0, fingerprint_value(1))
    assert unchanged("text", fingerprint_value("text"))
