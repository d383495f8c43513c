"""flowdesk benchmarks: per-completion cost in a long loop, throughput, and task queries.

Run them all with `python -m benchmarks` from the repository root (`--quick` for a short run,
`--pg URL` or `FLOWDESK_BENCH_PG` for the PostgreSQL parts). Every figure is printed next to
raw SpiffWorkflow measured in the same run on the same BPMN file. Not part of the wheel.
"""
