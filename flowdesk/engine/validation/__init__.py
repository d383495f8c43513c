"""Deploy-time checks of BPMN and DMN files: every problem, with its file, line and element id.

SpiffWorkflow's parser stops at the first error and reports it without a line, and several
mistakes (a condition that is not Python, a timer text Spiff cannot read, a decision nobody
deployed) only surface when an instance reaches the element, maybe weeks later. So
`deploy` runs these checks first, on the lxml tree, and rejects the file with the full list.

The checks read the XML directly rather than Spiff's specs: a spec has lost the line numbers and
the container structure, and a malformed file never becomes a spec at all. They follow Camunda 7
where the BPMN standard leaves room: a process without `isExecutable` is executable (Camunda
deploys it with a warning), `camunda:` attributes are also read in the old Activiti namespace
(which Camunda 7 still accepts), and a `timeCycle` may be a Quartz cron expression. Processes
marked `isExecutable="false"` are documentation; only their structure (ids and references) is
checked. Script and condition texts are checked by translating them with
`flowdesk.engine.languages.expressions`, the same code that runs them.

`xml_reading` parses a file safely and tells BPMN from DMN; `declarations` lists the processes
and decisions a file defines and names. `bpmn_checks` runs the checks of a BPMN file, which
`structure_checks`, `expression_checks`, `timer_checks` and `camunda_checks` hold, over the
state in `bpmn_check_base`; `camunda_checks` also lists the Camunda settings deploy warns about
(`ignored_settings`). `root_element_checks`, `event_checks`, `flow_checks` and
`service_task_checks` hold the refusals Camunda 7's `BpmnParse` makes that the others do not
(docs/camunda-refusals.md lists them all). `dmn_checks` checks a DMN file; `elements` holds
the helpers they share. `resource_assignments` reads who may work on a user task, for these
checks and for the parser.

May import: `flowdesk.engine.scripts`, `dmn` and `languages` (to translate what it checks)
and `flowdesk`'s errors. Never SpiffWorkflow, the store or a higher engine layer.
"""

from __future__ import annotations

from flowdesk.engine.validation.bpmn_checks import validate_bpmn
from flowdesk.engine.validation.camunda_checks import ignored_settings
from flowdesk.engine.validation.declarations import (
    called_elements,
    decision_ids,
    decision_refs,
    process_ids,
)
from flowdesk.engine.validation.dmn_checks import HIT_POLICIES, validate_dmn
from flowdesk.engine.validation.elements import EXECUTABLE_FLOW_NODES
from flowdesk.engine.validation.generated_ids import unused_id
from flowdesk.engine.validation.timer_checks import TimerKind, timer_kind
from flowdesk.engine.validation.xml_reading import ACTIVITI_NS, DMN_NAMESPACES, kind_of, parse_xml

__all__ = [
    "ACTIVITI_NS",
    "DMN_NAMESPACES",
    "EXECUTABLE_FLOW_NODES",
    "HIT_POLICIES",
    "TimerKind",
    "called_elements",
    "decision_ids",
    "decision_refs",
    "ignored_settings",
    "kind_of",
    "parse_xml",
    "process_ids",
    "timer_kind",
    "unused_id",
    "validate_bpmn",
    "validate_dmn",
]
