"""The engine behind `flowdesk.Engine`: the only package that imports SpiffWorkflow.

Its subpackages, highest layer first; each may import the ones below it and none above
(docs/architecture.md draws them; `lint-imports` checks the order):

- `services`: what the facade calls, one per Camunda 7 service (runtime, tasks, history, ...).
- `instances`: one process instance in one unit of work, and the rows it keeps in step.
- `deployment`: BPMN and DMN files parsed into specs, checked, versioned and stored.
- `spiff`: the SpiffWorkflow adapter and the BPMN constructs flowdesk teaches it.
- `validation`: the deploy-time checks, on the XML.
- `scripts`: which language runs a model's script; FEEL as a script language.
- `dmn`: decision tables and literal expressions in FEEL.
- `languages`: JUEL, sandboxed Python, JavaScript, timer texts, their limits, and the BPMN
  XML namespaces.

Only `services`, `instances` and `deployment` use the store, through the names
`flowdesk.store` exports; nothing here imports SQLAlchemy. SpiffWorkflow objects stay inside
this package: what leaves it is a `flowdesk` record or error.
"""
