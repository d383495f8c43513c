"""The SpiffWorkflow adapter: one workflow run, and the BPMN constructs flowdesk adds.

`workflow` wraps one SpiffWorkflow workflow for the length of one engine call and hands back
plain data (`workflow_records`); `serializer`, `workflow_cache`, `task_search`, `pruning` and
`task_data` are its machinery; `specs`, `script_engine`, `listeners`, `event_scopes`,
`multi_instance`, `compensation` and the other modules teach SpiffWorkflow 3.2 what Camunda 7
does. No SpiffWorkflow object leaves this package except to `deployment` (parsed specs).

May import: `validation`, `scripts`, `dmn`, `languages`, `flowdesk`'s errors and handlers.
Never `flowdesk.store`, `deployment`, `instances` or `services`.
"""
