"""Checks of a DMN file: ids, decision tables, hit policies, required decisions and every cell."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from flowdesk.engine.dmn import reader as dmn_reader
from flowdesk.engine.validation.elements import _by_line
from flowdesk.engine.validation.xml_reading import _duplicate_ids, _line, kind_of
from flowdesk.errors import Problem

HIT_POLICIES = frozenset(
    {"UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"}
)


def validate_dmn(tree: etree._ElementTree, file: str) -> list[Problem]:
    """Every problem in a DMN file: structure (ids, tables, hit policies, requirements) and
    every expression or unary test flowdesk's DMN engine cannot evaluate.

    Args:
        tree: A tree from `parse_xml`.
        file: The name to report problems under.

    Returns:
        The problems, ordered by line; an empty list means the file may be deployed.

    Raises:
        ValueError: The tree is not a DMN file.
    """
    if kind_of(tree) != "dmn":
        raise ValueError("validate_dmn needs a DMN file; use validate_bpmn for BPMN")
    root = tree.getroot()
    ns = "{" + (etree.QName(root).namespace or "") + "}"
    problems = _duplicate_ids(root, file)

    def add(element: etree._Element, element_id: str | None, message: str) -> None:
        problems.append(Problem(file, _line(element), element_id, message))

    decisions = {d.get("id") for d in root.iter(f"{ns}decision")}
    for decision in root.iter(f"{ns}decision"):
        decision_id = decision.get("id")
        tables = list(decision.iterchildren(f"{ns}decisionTable"))
        if not tables and decision.find(f"{ns}literalExpression") is None:
            add(
                decision,
                decision_id,
                f"decision {decision_id!r} has neither a decision table nor a literal expression",
            )
        for table in tables:
            _check_table(table, ns, decision_id, add)
        for required in decision.iter(f"{ns}requiredDecision"):
            href = (required.get("href") or "").strip()
            if not href.startswith("#") or href[1:] not in decisions:
                add(
                    required,
                    decision_id,
                    f"decision {decision_id!r} requires {href!r}, which is not a decision in this "
                    "file (write '#' and the id of a decision here)",
                )
    # Every cell is translated with the code that evaluates it: what fails here never runs.
    problems += dmn_reader.read(root, file)[1]
    return _by_line(problems)


def _check_table(
    table: etree._Element,
    ns: str,
    decision_id: str | None,
    add: Callable[[etree._Element, str | None, str], None],
) -> None:
    where = f"decision table of {decision_id!r}"
    inputs = len(list(table.iterchildren(f"{ns}input")))
    outputs = len(list(table.iterchildren(f"{ns}output")))
    # No input is fine: Camunda 7 then matches every rule (a configuration table).
    if not outputs:
        add(table, decision_id, f"{where} has no output")
    hit_policy = table.get("hitPolicy", "UNIQUE")
    if hit_policy not in HIT_POLICIES:
        add(
            table,
            decision_id,
            f"{where} has hit policy {hit_policy!r}; use one of " + ", ".join(sorted(HIT_POLICIES)),
        )
    for number, rule in enumerate(table.iterchildren(f"{ns}rule"), start=1):
        rule_id = rule.get("id") or f"rule {number}"
        for kind, columns in (("input", inputs), ("output", outputs)):
            entries = len(list(rule.iterchildren(f"{ns}{kind}Entry")))
            if entries != columns:
                add(
                    rule,
                    decision_id,
                    f"{where}: {rule_id!r} has {entries} {kind} entries but the table has "
                    f"{columns} {kind} column{'s' if columns != 1 else ''}",
                )
