"""One process instance inside one unit of work, and the rows it keeps in step.

`execution` loads an instance, runs its workflow and saves what that implies: the workflow
document, and through its parts the task (`task_rows`), wait (`wait_rows`), external-task
(`external_task_rows`) and history (`history_recorder`) rows. `saving` saves it and every
instance its save touches, with an explicit stack. `correlation`
delivers messages and signals between instances, `calls` runs call activities,
`variable_types` types the values a call passes, `forms` reads and checks Camunda forms, and
`context` is what every service shares for the life of an `Engine`.

May import: `deployment`, `spiff` and the layers below them, `flowdesk.store`'s interface,
`flowdesk`'s records, errors, handlers and input limits. Never `services`.
"""
