"""flowdesk's DMN engine: decision tables and literal expressions in FEEL, run in the sandbox.

`reader` reads a DMN file into `model` objects, translating every FEEL text with `feel` (whose
run-time helpers are in `functions`); `evaluation` evaluates a decision with its hit policy;
`registry` holds the decisions a BPMN parser can reference; `task` is the business rule task
(`flowdesk.engine.services.decisions` answers `Engine.evaluate_decision`). Deliberately no
SpiffWorkflow DMN: see `task`.

May import: `flowdesk.engine.languages` (the sandbox, JavaScript, the limits) and `flowdesk`'s
errors. Never the store or a higher engine layer (`scripts`, `validation`, `spiff`, ...).
"""
