"""The file's root elements Camunda 7 refuses at deploy: imports, signals, errors, escalations.

Camunda 7's `BpmnParse` reads these before any process, for the whole file, whether its
processes are executable or not, and refuses (its words in quotes):

- any `bpmn:import` ("Could not import item of type ..."): Camunda 7 has no importer for
  XSD, WSDL or BPMN imports, and flowdesk does not read them either;
- a `bpmn:signal` without `id` or `name`, or two signals with the same name ("duplicate
  signal name");
- a `bpmn:error` or `bpmn:escalation` without `id`.

docs/camunda-refusals.md lists each with flowdesk's answer.
"""

from __future__ import annotations

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase


class _RootElementChecks(_BpmnCheckBase):
    """Refusals of root elements (children of `definitions`) Camunda 7 does not deploy."""

    def check_root_elements(self) -> None:
        """Imports, signals, errors and escalations of the file."""
        for element in self.root.iterchildren(f"{BPMN}import"):
            kind = element.get("importType")
            self.add(
                element,
                None,
                f"bpmn:import of type {kind!r} (location {element.get('location')!r}); Camunda 7 "
                f"refuses every import ('Could not import item of type {kind}'), and flowdesk "
                "does not read imports either: put what the model needs in this file",
            )
        names: dict[str, str] = {}
        for signal in self.root.iterchildren(f"{BPMN}signal"):
            signal_id, name = signal.get("id"), signal.get("name")
            if name is not None and name in names:
                self.add(
                    signal,
                    signal_id,
                    f"signals {names[name]!r} and {signal_id!r} have the same name {name!r}; "
                    f"Camunda 7 refuses it ('duplicate signal name '{name}'.'): signal names "
                    "must be unique in a file",
                )
            if signal_id is None:
                self.add(
                    signal,
                    None,
                    f"a bpmn:signal (name {name!r}) has no id; Camunda 7 refuses it ('signal "
                    "must have an id')",
                )
            elif name is None:
                self.add(
                    signal,
                    signal_id,
                    f"signal {signal_id!r} has no name; Camunda 7 refuses it ('signal with id "
                    f"'{signal_id}' has no name'): the name is what throws and catches match",
                )
            if name is not None:
                names.setdefault(name, signal_id or "")
        for kind, reason in (
            ("error", "'id' is mandatory on error definition"),
            ("escalation", "escalation must have an id"),
        ):
            for element in self.root.iterchildren(f"{BPMN}{kind}"):
                if element.get("id") is None:
                    self.add(
                        element,
                        None,
                        f"a bpmn:{kind} (name {element.get('name')!r}) has no id; Camunda 7 "
                        f"refuses it ({reason!r})",
                    )
