"""The engine's services: what `flowdesk.Engine` calls, one per Camunda 7 service.

`runtime` (start, correlate, read instances), `tasks` (user tasks), `external_tasks`, `history`
(with `process_analysis`), `job_executor` (due jobs), `decisions` (`Engine.evaluate_decision`),
`instance_admin` (calls from outside a model) and `diagram_view`. Each opens its own unit of
work, acts through `flowdesk.engine.instances`, and returns `flowdesk` records.

May import: every other engine subpackage, `flowdesk.store`'s interface, `flowdesk`'s records
and errors, `flowdesk.diagrams`. Imported by: `flowdesk/_engine.py` only.
"""
