"""Raw SpiffWorkflow 3.2 in memory: the reference every benchmark is measured against.

The benchmarks compare flowdesk with the library it is built on, on the same BPMN file. The
reference runs the file the way an application using SpiffWorkflow directly would: Spiff's own
`CamundaParser`, a `BpmnWorkflow` in memory, `do_engine_steps` after each completion, and no
persistence. This module is the one place outside `flowdesk/engine/` that imports
SpiffWorkflow; it has to, being the baseline.

Raw Spiff evaluates conditions as Python, so `${round < n}` would be a SyntaxError; the only
adaptation is `_DollarStripping`, which removes the `${` `}` around an expression (the models
are written so that what is inside is also valid Python). It costs a string slice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskIterator, TaskState

# Deep enough for 1,000 rounds of a two-step loop (2 levels per round) with room to spare.
DEEP_ITERATION = 100_000


class _DollarStripping(PythonScriptEngine):  # type: ignore[misc]
    """Spiff's Python engine, reading `${expr}` as `expr`."""

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        text = expression.strip()
        if text.startswith("${") and text.endswith("}"):
            text = text[2:-1]
        return super().evaluate(task, text, external_context)


class RawProcess:
    """One BPMN process parsed by Spiff's `CamundaParser`, ready to start in memory."""

    def __init__(self, path: Path, process_id: str) -> None:
        parser = CamundaParser()
        parser.add_bpmn_file(str(path))
        self._spec = parser.get_spec(process_id)
        self._subprocess_specs = parser.get_subprocess_specs(process_id)
        self._script_engine = _DollarStripping()

    def start(self, variables: Mapping[str, Any]) -> RawInstance:
        """A new workflow run to its first wait state, with `variables` as its start data."""
        workflow = BpmnWorkflow(
            self._spec, self._subprocess_specs, script_engine=self._script_engine
        )
        workflow.data.update(variables)
        start = workflow.get_next_task(state=TaskState.READY)
        if start is not None:
            start.data.update(variables)
        workflow.do_engine_steps()
        return RawInstance(workflow)


class RawInstance:
    """A running raw workflow; `complete_next` is what one user completion costs in Spiff."""

    def __init__(self, workflow: BpmnWorkflow) -> None:
        self.workflow = workflow

    def ready_user_tasks(self) -> list[Any]:
        """The READY manual tasks, found the way Spiff applications find them."""
        return list(self.workflow.get_tasks(state=TaskState.READY, manual=True))

    def complete_next(self, data: Mapping[str, Any]) -> bool:
        """Complete the first READY user task with `data` and run on; False if none is READY."""
        tasks = self.ready_user_tasks()
        if not tasks:
            return False
        task = tasks[0]
        task.data.update(data)
        task.run()
        self.workflow.do_engine_steps()
        return True

    @property
    def completed(self) -> bool:
        """What Spiff says; after ~500 loop rounds it says True wrongly (see the field guide)."""
        return bool(self.workflow.is_completed())

    @property
    def task_count(self) -> int:
        """How many tasks the tree holds; raw Spiff keeps every finished one."""
        return len(self.workflow.tasks)


@contextlib.contextmanager
def deep_iterators(max_depth: int = DEEP_ITERATION) -> Iterator[None]:
    """Raise Spiff's task-iterator depth limit (1000) while the block runs; restore it after.

    Without this a loop stops after about 500 rounds: the READY task sits deeper than the
    iterators look, and Spiff reports the workflow completed. Engine code calls the iterators
    with their default depth, so the defaults themselves are patched. Benchmark use only.
    """
    saved = (TaskIterator.__init__.__defaults__, BpmnTaskIterator.__init__.__defaults__)
    TaskIterator.__init__.__defaults__ = _with_depth(saved[0], max_depth)
    BpmnTaskIterator.__init__.__defaults__ = _with_depth(saved[1], max_depth)
    try:
        yield
    finally:
        TaskIterator.__init__.__defaults__, BpmnTaskIterator.__init__.__defaults__ = saved


def _with_depth(defaults: tuple[Any, ...] | None, max_depth: int) -> tuple[Any, ...]:
    # Both signatures are (self, task, end_at_spec=None, max_depth=1000, ...): max_depth is the
    # second default. Checked so that a changed Spiff fails loudly instead of patching nonsense.
    if defaults is None or len(defaults) < 2 or defaults[1] != 1000:
        raise RuntimeError(f"unexpected SpiffWorkflow iterator defaults {defaults!r}")
    return (defaults[0], max_depth, *defaults[2:])
