"""A call activity chain deeper than Python's recursion limit allows a recursive save.

One call saves every instance it reaches (the instances call activities start, the callers of
instances that end) in one unit of work; `flowdesk.engine.instances.saving` walks them with an
explicit stack, so how deep the chain goes is up to the model, as in Camunda 7.
"""

from __future__ import annotations

from conftest import DATA

import flowdesk

# Each level used to cost the recursive save two Python frames: 500 levels already failed
# with RecursionError under the default limit of 1000.
DEPTH = 600


def test_call_chain__deeper_than_the_recursion_limit_starts_and_ends_every_level(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "call_chain.bpmn")

    top = engine.start("chain", {"depth": 0, "limit": DEPTH})

    running = engine.instances(key="chain", state="running")
    assert len(running) == DEPTH + 1
    (bottom_task,) = engine.tasks()
    bottom = engine.instance(bottom_task.instance_id)
    assert bottom.variables == {"depth": DEPTH, "limit": DEPTH}

    engine.complete(bottom_task.id, {"reached": DEPTH})

    assert engine.instances(key="chain", state="running") == []
    assert len(engine.instances(key="chain", state="completed")) == DEPTH + 1
    assert engine.instance(top.id).variables == {"depth": 0, "limit": DEPTH, "reached": DEPTH}
