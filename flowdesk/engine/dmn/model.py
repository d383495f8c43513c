"""The parsed form of a DMN file: decisions, their tables or literal expressions, translated.

Everything here is plain frozen data built once per deployed file by `reader.read`; every
text in it is already translated, so evaluating never parses XML or FEEL again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

HitPolicy = Literal["UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"]
Aggregation = Literal["SUM", "MIN", "MAX", "COUNT"]

UNNAMED = ""
"""The result key of a table's only output when it has no name (Camunda 7: `null`)."""

DEFAULT_INPUT_VARIABLE = "cellInput"
"""Camunda's name for the value under test inside an input entry (`camunda:inputVariable`)."""


@dataclass(frozen=True, slots=True)
class Expression:
    """One translated text of the file.

    `language` is "javascript" (`source` is the script, run in QuickJS), "feel" (then
    `source` is Python calling the FEEL helpers) or "juel" (then
    `source` is the original `${...}` text, which the sandbox translates itself).
    """

    text: str
    source: str
    language: Literal["feel", "juel", "javascript"]
    element_id: str | None


@dataclass(frozen=True, slots=True)
class Input:
    """An input column: the expression whose value the column's tests check."""

    id: str | None
    label: str
    expression: Expression
    type_ref: str | None
    variable: str = DEFAULT_INPUT_VARIABLE


@dataclass(frozen=True, slots=True)
class Output:
    """An output column; `values` (its output values, in priority order) may be empty.

    `name` is `UNNAMED` ("") for the one output of a table that gives it no name, which
    Camunda 7 allows (its result then keys the value `null`).
    """

    id: str | None
    name: str
    type_ref: str | None
    values: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """A row: one test per input, one expression (None when empty) per output."""

    id: str
    tests: tuple[Expression, ...]
    outputs: tuple[Expression | None, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A decision table."""

    id: str | None
    hit_policy: HitPolicy
    aggregation: Aggregation | None
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class LiteralDecision:
    """A literal-expression decision; its value is published under `variable`."""

    id: str | None
    expression: Expression
    variable: str
    type_ref: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision, with the ids of the decisions it requires (in the same file)."""

    id: str
    name: str
    logic: Table | LiteralDecision
    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionGraph:
    """Every decision of one DMN file, by id: a decision and what it requires."""

    file: str
    decisions: Mapping[str, Decision] = field(default_factory=dict)
