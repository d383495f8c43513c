"""Read a DMN file (1.1 to 1.5) into a `DecisionGraph`, translating every text once.

The same reading serves the deploy-time check (`validation.validate_dmn` adds its problems)
and the engine (business rule tasks and `evaluate_decision`), so a file that deploys is a file
that evaluates. Structural mistakes that `validate_dmn` already reports (a rule with too few
entries, an unknown hit policy, a dangling `requiredDecision`) are skipped here silently:
such a file never deploys, and reporting them twice would only add noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from lxml import etree

from flowdesk.engine.dmn import feel, model, namespaces
from flowdesk.engine.languages import expressions, javascript
from flowdesk.errors import ExpressionError, Problem

_HIT_POLICIES = frozenset(
    {"UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"}
)
_AGGREGATIONS = frozenset({"SUM", "MIN", "MAX", "COUNT"})


def read(root: etree._Element, file: str) -> tuple[model.DecisionGraph, list[Problem]]:
    """Every decision of a DMN file, and every text or setting flowdesk cannot evaluate.

    Args:
        root: The file's `definitions` element.
        file: The name to report problems under.

    Returns:
        The decisions (those with problems may be incomplete) and the problems; the file may
        be deployed only when the problems are empty.
    """
    return _Reader(root, file).run()


class _Reader:
    def __init__(self, root: etree._Element, file: str) -> None:
        self.root = root
        self.file = file
        self.ns = "{" + (etree.QName(root).namespace or "") + "}"
        self.default_language = (root.get("expressionLanguage") or "").strip()
        self.problems: list[Problem] = []
        self.decision_id = ""

    def run(self) -> tuple[model.DecisionGraph, list[Problem]]:
        decisions: dict[str, model.Decision] = {}
        for element in self.root.iterchildren(f"{self.ns}decision"):
            decision_id = element.get("id")
            if not decision_id or decision_id in decisions:
                continue  # reported by validate_dmn (ids)
            self.decision_id = decision_id
            logic = self.logic(element)
            if logic is None:
                continue
            required = tuple(
                href[1:]
                for href in (
                    (r.get("href") or "").strip()
                    for r in element.iter(f"{self.ns}requiredDecision")
                )
                if href.startswith("#")
            )
            decisions[decision_id] = model.Decision(
                decision_id, element.get("name") or decision_id, logic, required
            )
        self.check_cycles(decisions)
        return model.DecisionGraph(self.file, decisions), self.problems

    # -- decision logic -------------------------------------------------------------------

    def logic(self, decision: etree._Element) -> model.Table | model.LiteralDecision | None:
        table = decision.find(f"{self.ns}decisionTable")
        if table is not None:
            return self.table(table)
        literal = decision.find(f"{self.ns}literalExpression")
        if literal is not None:
            return self.literal(decision, literal)
        return None  # reported by validate_dmn

    def literal(
        self, decision: etree._Element, literal: etree._Element
    ) -> model.LiteralDecision | None:
        # Camunda 7 publishes a literal expression's value under its decision's `variable`
        # and converts it to the variable's typeRef (the literalExpression's own typeRef is
        # not read); a decision without one fails its deploy (decisionVariableIsMissing).
        variable = decision.find(f"{self.ns}variable")
        name = ((variable.get("name") if variable is not None else None) or "").strip()
        if not name:
            self.add(
                variable if variable is not None else decision,
                self.decision_id,
                "a literal expression decision needs a <variable> with a name: its value is "
                "published under that name",
            )
        expression = self.expression(literal, literal, "literal expression")
        if expression is None or not name:
            return None
        type_ref = variable.get("typeRef") if variable is not None else None
        return model.LiteralDecision(literal.get("id"), expression, name, type_ref)

    def table(self, table: etree._Element) -> model.Table | None:
        hit_policy = (table.get("hitPolicy") or "UNIQUE").strip()
        if hit_policy not in _HIT_POLICIES:
            return None  # reported by validate_dmn
        aggregation = self.aggregation(table, hit_policy)
        inputs = [self.input(column) for column in table.iterchildren(f"{self.ns}input")]
        columns = list(table.iterchildren(f"{self.ns}output"))
        outputs = [
            self.output(column, index, hit_policy, len(columns))
            for index, column in enumerate(columns, start=1)
        ]
        self.check_output_names(outputs, columns)
        if not outputs:
            # No input is fine: every rule matches, as in Camunda 7 (a configuration table).
            return None  # reported by validate_dmn
        self.check_outputs(table, aggregation, outputs)
        rules = []
        for number, rule in enumerate(table.iterchildren(f"{self.ns}rule"), start=1):
            parsed = self.rule(rule, number, inputs, outputs)
            if parsed is not None:
                rules.append(parsed)
        if any(column is None for column in inputs) or any(column is None for column in outputs):
            return None
        return model.Table(
            table.get("id"),
            cast(model.HitPolicy, hit_policy),
            aggregation,
            tuple(column for column in inputs if column is not None),
            tuple(column for column in outputs if column is not None),
            tuple(rules),
        )

    def aggregation(self, table: etree._Element, hit_policy: str) -> model.Aggregation | None:
        value = (table.get("aggregation") or "").strip()
        if not value:
            return None
        if value not in _AGGREGATIONS:
            self.add(
                table,
                table.get("id") or self.decision_id,
                f"aggregation {value!r} is not one of COUNT, MAX, MIN, SUM",
            )
            return None
        if hit_policy != "COLLECT":
            self.add(
                table,
                table.get("id") or self.decision_id,
                f"aggregation {value} needs hit policy COLLECT, not {hit_policy}",
            )
            return None
        return cast(model.Aggregation, value)

    def input(self, column: etree._Element) -> model.Input | None:
        label = (column.get("label") or "").strip()
        variable = (self.camunda(column, "inputVariable") or "").strip()
        node = column.find(f"{self.ns}inputExpression")
        expression: model.Expression | None
        if node is not None and self.text_of(node).strip():
            expression = self.expression(node, column, f"input expression of {label!r}")
        elif label.isidentifier() and label not in feel.KEYWORDS:
            # SpiffWorkflow's DMN files leave the expression empty and name the variable in
            # the label; Camunda cannot run those, flowdesk reads the variable the label names.
            element_id = node.get("id") if node is not None else column.get("id")
            expression = model.Expression(
                label, feel.translate_expression(label), "feel", element_id
            )
        elif node is not None:
            # Camunda 7: an input expression without text has the value null
            # (DecisionTableEvaluationHandler.evaluateInput), which its entries then test.
            expression = model.Expression("", "None", "feel", node.get("id") or column.get("id"))
        else:
            # The DMN schemas require the element; Camunda 7 refuses the file.
            self.add(
                column,
                column.get("id"),
                f"input {label or column.get('id')!r} has no inputExpression; write the "
                "variable or expression whose value the column tests",
            )
            return None
        if expression is None:
            return None
        return model.Input(
            column.get("id"),
            label,
            expression,
            node.get("typeRef") if node is not None else None,
            variable or model.DEFAULT_INPUT_VARIABLE,
        )

    def output(
        self, column: etree._Element, index: int, hit_policy: str, count: int
    ) -> model.Output | None:
        name = (column.get("name") or "").strip()
        if not name and count > 1:
            # Camunda 7 refuses it too (compoundOutputsShouldHaveAnOutputName).
            self.add(
                column,
                column.get("id"),
                f"output {index} ({column.get('label') or column.get('id')!r}) has no name; "
                "each output of a table with several outputs needs one: it is the key of the "
                "value in the decision result",
            )
            return None
        values: tuple[Any, ...] = ()
        node = column.find(f"{self.ns}outputValues")
        text = self.text_of(node).strip()
        if text and hit_policy in ("PRIORITY", "OUTPUT ORDER"):
            try:
                values = tuple(feel.literal_values(text))
            except feel.FeelSyntaxError as err:
                self.add(
                    node if node is not None else column,
                    column.get("id"),
                    f"output values of {name!r} must list literals for hit policy "
                    f"{hit_policy} ({err})",
                )
        return model.Output(column.get("id"), name, column.get("typeRef"), values)

    def check_output_names(
        self, outputs: list[model.Output | None], columns: list[etree._Element]
    ) -> None:
        seen: set[str] = set()
        for output, column in zip(outputs, columns, strict=True):
            if output is None:
                continue
            if output.name in seen:
                # Camunda 7: compoundOutputWithDuplicateName.
                self.add(
                    column,
                    column.get("id"),
                    f"output name {output.name!r} is used by two outputs of the table; each "
                    "output needs its own name",
                )
            seen.add(output.name)

    def check_outputs(
        self, table: etree._Element, aggregation: str | None, outputs: list[model.Output | None]
    ) -> None:
        if aggregation and len(outputs) > 1:
            self.add(
                table,
                table.get("id") or self.decision_id,
                f"aggregation {aggregation} needs exactly one output column, the table has "
                f"{len(outputs)}",
            )

    def rule(
        self,
        rule: etree._Element,
        number: int,
        inputs: list[model.Input | None],
        outputs: list[model.Output | None],
    ) -> model.Rule | None:
        rule_id = rule.get("id") or f"rule {number}"
        input_entries = list(rule.iterchildren(f"{self.ns}inputEntry"))
        output_entries = list(rule.iterchildren(f"{self.ns}outputEntry"))
        if len(input_entries) != len(inputs) or len(output_entries) != len(outputs):
            return None  # reported by validate_dmn
        tests = []
        ok = True
        for column, entry in enumerate(input_entries, start=1):
            test = self.test(entry, rule_id, column)
            ok = ok and test is not None
            if test is not None:
                tests.append(test)
        results: list[model.Expression | None] = []
        for column, entry in enumerate(output_entries, start=1):
            if not self.text_of(entry).strip():
                results.append(None)  # Camunda: an empty output entry sets no output
                continue
            result = self.expression(entry, entry, f"output entry {column} of rule {rule_id!r}")
            ok = ok and result is not None
            results.append(result)
        return model.Rule(rule_id, tuple(tests), tuple(results)) if ok else None

    def test(self, entry: etree._Element, rule_id: str, column: int) -> model.Expression | None:
        text = self.text_of(entry)
        element_id = entry.get("id") or rule_id
        language = self.language(entry)
        what = f"input entry {column} of rule {rule_id!r}"
        if not text.strip():
            # Camunda: an empty input entry matches, whatever its expression language.
            return model.Expression("", "True", "feel", element_id)
        if language == "javascript":
            return self.javascript(entry, element_id, text, what)
        if language not in ("feel", "juel"):
            self.unsupported_language(entry, element_id, language, what)
            return None
        if language == "juel" or expressions.is_juel(text):
            return self.juel(entry, element_id, text, what)
        try:
            source = feel.translate_unary_tests(text)
        except feel.FeelSyntaxError as err:
            self.add(
                entry,
                element_id,
                f"{what}: {text.strip()!r} is not a FEEL unary test flowdesk supports ({err})",
            )
            return None
        return model.Expression(text.strip(), source, "feel", element_id)

    def expression(
        self, node: etree._Element, owner: etree._Element, what: str
    ) -> model.Expression | None:
        text = self.text_of(node)
        element_id = node.get("id") or owner.get("id")
        language = self.language(node)
        if language == "javascript":
            return self.javascript(node, element_id, text, what)
        if language not in ("feel", "juel"):
            self.unsupported_language(node, element_id, language, what)
            return None
        if language == "juel" or expressions.is_juel(text):
            return self.juel(node, element_id, text, what)
        try:
            source = feel.translate_expression(text)
        except feel.FeelSyntaxError as err:
            self.add(
                node,
                element_id,
                f"{what}: {text.strip()!r} is not a FEEL expression flowdesk supports ({err})",
            )
            return None
        return model.Expression(text.strip(), source, "feel", element_id)

    def juel(
        self, node: etree._Element, element_id: str | None, text: str, what: str
    ) -> model.Expression | None:
        source = text.strip()
        if not source.startswith(("${", "#{")):
            # Camunda's DMN engine wraps a JUEL cell that is not `${...}` itself
            # (ExpressionEvaluationHandler.getExpressionTextForLanguage): `cellInput == 1`.
            source = "${" + source + "}"
        try:
            expressions.translate(source, element_id=element_id)
        except ExpressionError as err:
            self.add(node, element_id, f"{what}: {err.reason}")
            return None
        return model.Expression(text.strip(), source, "juel", element_id)

    def javascript(
        self, node: etree._Element, element_id: str | None, text: str, what: str
    ) -> model.Expression | None:
        # Camunda 7 runs any other language through its JSR-223 script engines; flowdesk runs
        # JavaScript (QuickJS, see flowdesk.engine.languages.javascript), parsed here so that a
        # syntax error fails the deploy.
        try:
            javascript.check(text, element_id=element_id)
        except javascript.ScriptSyntaxError as err:
            self.add(node, element_id, f"{what} is not valid JavaScript: {err.reason}")
            return None
        return model.Expression(text.strip(), text, "javascript", element_id)

    def unsupported_language(
        self, node: etree._Element, element_id: str | None, language: str, what: str
    ) -> None:
        self.add(
            node,
            element_id,
            f"{what} uses expression language {language!r}; flowdesk evaluates FEEL, JUEL and "
            "JavaScript",
        )

    def language(self, node: etree._Element) -> str:
        value = (node.get("expressionLanguage") or self.default_language).strip()
        if not value or namespaces.is_feel(value):
            return "feel"
        if value.lower() == "juel":
            return "juel"
        if javascript.is_javascript(value):
            return "javascript"
        return value

    # -- graph ------------------------------------------------------------------------------

    def check_cycles(self, decisions: dict[str, model.Decision]) -> None:
        for decision_id in decisions:
            if _on_cycle(decisions, decision_id):
                self.decision_id = decision_id
                element = self.decision_element(decision_id)
                self.add(
                    element,
                    decision_id,
                    f"decision {decision_id!r} requires itself through its required decisions",
                )

    def decision_element(self, decision_id: str) -> etree._Element:
        for element in self.root.iterchildren(f"{self.ns}decision"):
            if element.get("id") == decision_id:
                return element
        return self.root

    # -- helpers ----------------------------------------------------------------------------

    def text_of(self, node: etree._Element | None) -> str:
        if node is None:
            return ""
        text = node.find(f"{self.ns}text")
        return (text.text or "") if text is not None else ""

    def camunda(self, node: etree._Element, attribute: str) -> str | None:
        return node.get(f"{{{namespaces.CAMUNDA_DMN_NS}}}{attribute}")

    def add(self, element: etree._Element, element_id: str | None, message: str) -> None:
        line = element.sourceline
        self.problems.append(
            Problem(
                self.file,
                line if isinstance(line, int) else None,
                element_id,
                f"decision {self.decision_id!r}: {message}",
            )
        )


def _on_cycle(decisions: dict[str, model.Decision], start: str) -> bool:
    seen: set[str] = set()
    pending = list(decisions[start].required)
    while pending:
        current = pending.pop()
        if current == start:
            return True
        if current in seen or current not in decisions:
            continue
        seen.add(current)
        pending.extend(decisions[current].required)
    return False


def requirement_order(graph: model.DecisionGraph, decision_id: str) -> Iterator[str]:
    """The decisions `decision_id` requires, each after its own requirements (post-order)."""
    done: set[str] = set()

    def visit(current: str) -> Iterator[str]:
        for required in graph.decisions[current].required:
            if required in done or required not in graph.decisions:
                continue
            done.add(required)
            yield from visit(required)
            yield required

    yield from visit(decision_id)
