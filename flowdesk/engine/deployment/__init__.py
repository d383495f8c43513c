"""Definitions: reading BPMN and DMN files into specs at deploy, checking and storing them.

`repository` deploys, versions and caches parsed definitions; `parser` is SpiffWorkflow's
Camunda parser taught what Camunda 7 reads; `spec_coverage` checks after a trial parse that
every reachable element was parsed; `start_timers` schedules timer start events per version.

May import: `spiff`, `validation`, `scripts`, `dmn`, `languages`, `flowdesk.store`'s interface,
`flowdesk`'s records, errors and handlers. Never `instances` or `services`.
"""
