"""Multi-instance activities as Camunda 7 runs them.

SpiffWorkflow 3.2's Camunda multi-instance task reads `camunda:collection` as the *name* of a
data item (so `${reviewers}` finds nothing), knows neither `loopCounter` nor the `nrOf*`
counters, copies the element variable into each child's data (where flowdesk's one process
scope would publish it), merges every child's data back into the activity, and writes each
child's element variable back into the collection. Camunda 7 does none of that. Here the
parser builds a `MultiInstanceActivity` instead, which:

- evaluates `camunda:collection` (`${expr}` or a variable name) or `loopCardinality` (`3`,
  `${n}`) once, when the activity starts, against the process variables and the locals of
  any enclosing instance;
- gives each instance Camunda's local variables: `loopCounter` (from 0) and the element
  variable, kept in the instance task's internal data (never in the process scope), and the
  body's `nrOfInstances`, `nrOfActiveInstances` and `nrOfCompletedInstances`;
- after each instance evaluates `completionCondition` and, when it holds, cancels the
  instances still running (parallel) or starts no more (sequential);
- optionally collects one result per instance (extension properties
  `flowdesk.outputCollection` and `flowdesk.outputElement`, see docs/multi-instance.md),
  evaluated against that instance's own writes, so instances never overwrite each other.

`WorkflowRun` asks `local_variables(task)` what a task sees besides the process scope, sends a
changed local back with `set_local`, and reports every task's writes with `record_writes`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS
from flowdesk.engine.scripts import script_languages
from flowdesk.engine.spiff import internals
from flowdesk.errors import ExpressionError

LOOP_COUNTER = "loopCounter"
NR_OF_INSTANCES = "nrOfInstances"
NR_OF_ACTIVE_INSTANCES = "nrOfActiveInstances"
NR_OF_COMPLETED_INSTANCES = "nrOfCompletedInstances"

OUTPUT_COLLECTION = "flowdesk.outputCollection"
OUTPUT_ELEMENT = "flowdesk.outputElement"

# Internal data keys. The body task keeps its bookkeeping; each instance task its locals and
# the variables its own tasks wrote (for the output element, which must not see another
# instance's values).
_BODY = "flowdesk_mi"
_LOCALS = "flowdesk_mi_locals"
_WRITES = "flowdesk_mi_writes"

# Spiff keeps its data objects in the top workflow's data; they are not process variables.
_SPIFF_KEYS = frozenset({"data_objects"})

_CAMUNDA = "{" + CAMUNDA_MODEL_NS + "}"


# -- what tasks see ---------------------------------------------------------------------------


def local_variables(task: Any) -> dict[str, Any]:
    """The multi-instance locals a task sees: counters, `loopCounter` and element variable.

    Locals of an inner instance hide those of an outer one, as Camunda's nested scopes do.
    """
    layers = []
    for instance in _enclosing_instances(task):
        layer: dict[str, Any] = {}
        body = instance.parent
        state = body.internal_data.get(_BODY) if body is not None else None
        if state is not None:
            layer.update(_counters(body.task_spec, state))
        layer.update(instance.internal_data[_LOCALS])
        layers.append(layer)
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged.update(layer)
    return copy.deepcopy(merged)


def set_local(task: Any, name: str, value: Any) -> bool:
    """Store a changed `loopCounter` or element variable in the instance that owns it.

    Like Camunda's `setVariable`, the nearest scope that has the variable gets it. Returns
    False when no enclosing instance has a local of that name (the counters are read-only).
    """
    for instance in _enclosing_instances(task):
        locals_ = instance.internal_data[_LOCALS]
        if name in locals_:
            locals_[name] = copy.deepcopy(value)
            return True
    return False


def record_writes(task: Any, changed: Mapping[str, Any]) -> None:
    """Remember, in every instance enclosing the task, the process variables it wrote."""
    for instance in _enclosing_instances(task):
        own = instance.internal_data[_LOCALS]
        writes = instance.internal_data.setdefault(_WRITES, {})
        writes.update(copy.deepcopy({k: v for k, v in changed.items() if k not in own}))


def _enclosing_instances(task: Any) -> Iterator[Any]:
    """The instance tasks a task runs in, innermost first (the task itself may be one)."""
    current = task
    while current is not None:
        if _LOCALS in current.internal_data:
            yield current
        workflow = current.workflow
        parent_id = workflow.parent_task_id
        current = None if parent_id is None else workflow.top_workflow.get_task_from_id(parent_id)


def _counters(spec: Any, state: Mapping[str, Any]) -> dict[str, int]:
    instances, completed = state["instances"], state["completed"]
    if state["finished"]:
        active = 0
    elif spec.sequential:
        active = 1  # Camunda: always 1 while a sequential activity runs
    else:
        active = max(instances - completed, 0)
    return {
        NR_OF_INSTANCES: instances,
        NR_OF_ACTIVE_INSTANCES: active,
        NR_OF_COMPLETED_INSTANCES: completed,
    }


def _drop_orphaned_subprocesses(top: Any) -> None:
    """Cancel and forget the sub-workflows whose task is no longer in the tree."""
    while True:
        orphans = [ref for ref in top.subprocesses if not _has_task(top, ref)]
        if not orphans:
            return
        for ref in orphans:
            top.subprocesses.pop(ref).cancel()


def _has_task(top: Any, task_id: Any) -> bool:
    try:
        top.get_task_from_id(task_id)
    except TaskNotFoundException:
        return False
    return True


def _process_variables(task: Any) -> dict[str, Any]:
    data = task.workflow.top_workflow.data
    return {k: v for k, v in data.items() if k not in _SPIFF_KEYS}


# -- the activity -----------------------------------------------------------------------------


class MultiInstanceActivity(MultiInstanceTask, BpmnSpecMixin):  # type: ignore[misc]  # untyped
    """The multi-instance body: starts the instances, counts them, decides when it is done.

    The body becomes READY when the flow reaches it and runs like any engine task, so it sees
    the process scope as it is then. Its first run starts the instances and leaves it STARTED;
    each finished instance makes it READY again, and the next run counts the instance,
    evaluates the completion condition, starts the next sequential instance or completes.
    """

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        task_spec: str,
        *,
        sequential: bool,
        collection: str | None = None,
        element_variable: str | None = None,
        cardinality: str | None = None,
        condition: str | None = None,
        output_collection: str | None = None,
        output_element: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            wf_spec, bpmn_id, task_spec, cardinality=cardinality, condition=condition, **kwargs
        )
        self.sequential = sequential
        self.collection = collection
        self.element_variable = element_variable
        self.output_collection = output_collection
        self.output_element = output_element

    def _run_hook(self, my_task: Any) -> bool | None:
        state = my_task.internal_data.get(_BODY)
        if state is None:
            state = self._begin(my_task)
        while True:
            self._count_finished(my_task, state)
            if state["finished"] or state["completed"] >= state["instances"]:
                self._finish(my_task, state)
                return True
            if self.sequential and not self._running(my_task):
                self._start_instance(my_task, state, state["next"])
                continue  # it may have finished at once
            return None

    def merge_child(self, workflow: Any, child: Any) -> None:
        """Called when an instance completes: queue it for the body's next run."""
        body = child.parent
        if body is None or body.task_spec is not self:
            return
        state = body.internal_data.get(_BODY)
        if state is None:
            return
        state["pending"].append(str(child.id))
        if body.state == TaskState.STARTED:
            internals.set_state(body, TaskState.READY)

    def _on_cancel(self, my_task: Any) -> None:
        super()._on_cancel(my_task)
        # Spiff's Task.cancel removes the unfinished instances from the tree without cancelling
        # them, so an interrupted sub-process instance would leave its sub-workflow behind, and
        # the next engine step fails looking up its parent task.
        _drop_orphaned_subprocesses(my_task.workflow.top_workflow)

    # -- steps -----------------------------------------------------------------------------------

    def _begin(self, my_task: Any) -> dict[str, Any]:
        view = {**_process_variables(my_task), **local_variables(my_task)}
        items = self._items(my_task, view)
        count = self._cardinality(my_task, view) if self.cardinality else len(items or [])
        if items is not None and count > len(items):
            raise ExpressionError(
                self.collection or "",
                f"loopCardinality is {count} but the collection has {len(items)} elements",
                element_id=self.bpmn_id,
            )
        state: dict[str, Any] = {
            "instances": count,
            "completed": 0,
            "next": 0,
            "items": items,
            "pending": [],
            "results": [None] * count if self.output_collection else None,
            "finished": False,
        }
        my_task.internal_data[_BODY] = state
        if not self.sequential:
            for index in range(count):
                self._start_instance(my_task, state, index)
        return state

    def _start_instance(self, my_task: Any, state: dict[str, Any], index: int) -> None:
        spec = my_task.workflow.spec.task_specs[self.task_spec]
        child = internals.add_child(my_task, spec, TaskState.WAITING)
        child.triggered = True
        locals_: dict[str, Any] = {LOOP_COUNTER: index}
        if self.element_variable:
            items = state["items"]
            locals_[self.element_variable] = copy.deepcopy(items[index]) if items else None
        child.internal_data[_LOCALS] = locals_
        child.internal_data[_WRITES] = {}
        internals.set_instance_key(child, index)  # Spiff's task_info reads it
        state["next"] = index + 1
        # Spiff copies the body's data into the new instance (and a sub-process copies it on
        # into its start event); the copy must carry the instance's own locals.
        body_data = my_task.data
        my_task.data = {**body_data, **local_variables(child)}
        try:
            internals.update(child)
        finally:
            my_task.data = body_data

    def _count_finished(self, my_task: Any, state: dict[str, Any]) -> None:
        """Count the instances that completed since the last run, oldest first.

        Nothing is committed before the expressions of an instance succeeded, so a failing
        condition leaves the state as it was and a retry evaluates it again.
        """
        children = {str(c.id): c for c in my_task.children}
        while state["pending"]:
            child = children.get(state["pending"][0])
            if child is None:
                state["pending"].pop(0)
                continue
            completed = state["completed"] + 1
            counters = _counters(self, {**state, "completed": completed})
            view = {
                **_process_variables(my_task),
                **child.internal_data.get(_WRITES, {}),
                **local_variables(child),
                **counters,
            }
            result = self._output(my_task, view) if self.output_collection else None
            satisfied = (
                not state["finished"]
                and self.condition is not None
                and self._completion_holds(my_task, view)
            )
            state["pending"].pop(0)
            state["completed"] = completed
            if state["results"] is not None:
                state["results"][child.internal_data[_LOCALS][LOOP_COUNTER]] = result
            state["finished"] = state["finished"] or satisfied

    def _finish(self, my_task: Any, state: dict[str, Any]) -> None:
        state["finished"] = True
        for child in list(internals.multi_instance_children(my_task)):
            if not child.has_state(TaskState.FINISHED_MASK):
                child.cancel()
            child.internal_data.pop(_WRITES, None)
        state["items"] = None
        if self.output_collection:
            my_task.data[self.output_collection] = copy.deepcopy(state["results"])

    def _running(self, my_task: Any) -> bool:
        return any(
            not c.has_state(TaskState.FINISHED_MASK)
            for c in internals.multi_instance_children(my_task)
        )

    # -- expressions -----------------------------------------------------------------------------

    def _completion_holds(self, my_task: Any, view: Mapping[str, Any]) -> bool:
        value = self._evaluate(my_task, self.condition, view, "completionCondition")
        try:
            return script_languages.completion_condition_holds(self.condition, value)
        except ExpressionError as err:
            raise ExpressionError(err.expression, err.reason, element_id=self.bpmn_id) from err

    def _evaluate(self, my_task: Any, text: str, view: Mapping[str, Any], what: str) -> Any:
        try:
            return my_task.workflow.script_engine.environment.evaluate(text, view)
        except ExpressionError as err:
            if err.element_id:
                raise
            raise ExpressionError(text, f"{what}: {err.reason}", element_id=self.bpmn_id) from err

    def _items(self, my_task: Any, view: Mapping[str, Any]) -> list[Any] | None:
        if self.collection is None:
            return None
        # A plain variable name is a Python name in the expression context, so one call
        # serves both of Camunda's forms.
        value = self._evaluate(my_task, self.collection, view, "camunda:collection")
        if isinstance(value, Mapping):
            # Camunda refuses a Map; SpiffWorkflow models iterate a dict, so its values are
            # taken, in order.
            value = list(value.values())
        if not isinstance(value, list | tuple):
            raise ExpressionError(
                self.collection,
                f"camunda:collection must be a list, got {type(value).__name__}",
                element_id=self.bpmn_id,
            )
        return copy.deepcopy(list(value))

    def _cardinality(self, my_task: Any, view: Mapping[str, Any]) -> int:
        text = self.cardinality or ""
        value = self._evaluate(my_task, text, view, "loopCardinality")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ExpressionError(
                text,
                f"loopCardinality must be a whole number of at least 0, got {value!r}",
                element_id=self.bpmn_id,
            )
        return value

    def _output(self, my_task: Any, view: Mapping[str, Any]) -> Any:
        text = self.output_element
        if not text:
            return None
        if "${" in text or "#{" in text:
            return self._evaluate(my_task, text, view, OUTPUT_ELEMENT)
        return copy.deepcopy(view.get(text))  # a variable name; missing is null, as getVariable


# -- parsing ----------------------------------------------------------------------------------


class CamundaLoopParser:
    """Builds a `MultiInstanceActivity` from Camunda 7's multi-instance characteristics.

    Read as Camunda's own parser reads them: `camunda:collection` or `loopDataInputRef`
    (an expression or a variable name), `camunda:elementVariable` or `inputDataItem@name`,
    `loopCardinality`, `completionCondition` and `isSequential`.
    """

    task: Any
    spec: Any
    node: Any
    filename: str | None

    def _add_multiinstance_task(self, loop: Any) -> None:
        collection = loop.get(f"{_CAMUNDA}collection") or _text(
            _bpmn_child(loop, "loopDataInputRef")
        )
        item = _bpmn_child(loop, "inputDataItem")
        element_variable = loop.get(f"{_CAMUNDA}elementVariable") or (
            item.get("name") if item is not None else None
        )
        cardinality = _text(_bpmn_child(loop, "loopCardinality"))
        condition = _text(_bpmn_child(loop, "completionCondition"))
        if cardinality is None and collection is None:
            self._invalid("multi-instance activity needs loopCardinality or camunda:collection")
        if element_variable and collection is None:
            self._invalid("camunda:elementVariable needs camunda:collection to take elements from")
        properties = (getattr(self.task, "extensions", None) or {}).get("properties", {})
        output_collection = (properties.get(OUTPUT_COLLECTION) or "").strip() or None
        output_element = (properties.get(OUTPUT_ELEMENT) or "").strip() or None
        if bool(output_element) != bool(output_collection):
            self._invalid(
                f"extension properties {OUTPUT_COLLECTION} and {OUTPUT_ELEMENT} go together"
            )
        if output_collection and not output_collection.isidentifier():
            self._invalid(f"{OUTPUT_COLLECTION} must name a variable, got {output_collection!r}")
        original = self.spec.task_specs.pop(self.task.name)
        self.task = MultiInstanceActivity(
            self.spec,
            original.name,
            "",
            sequential=loop.get("isSequential") == "true",
            collection=collection,
            element_variable=element_variable,
            cardinality=cardinality,
            condition=condition,
            output_collection=output_collection,
            output_element=output_element,
            description="Multi-instance activity",
        )
        internals.copy_task_attrs(self, original, loop)
        # Connected here rather than when the first instance starts (as Spiff does), so an
        # instance that completes after the engine restarted still reaches its body.
        original.completed_event.connect(self.task.merge_child)

    def _invalid(self, message: str) -> NoReturn:
        raise ValidationException(message, node=self.node, file_name=self.filename)


def with_camunda_loops(classes: Mapping[str, tuple[type, type]]) -> dict[str, tuple[type, type]]:
    """The parser classes, each task parser taught Camunda's multi-instance characteristics."""
    taught: dict[str, tuple[type, type]] = {}
    for tag, (parser_cls, spec_cls) in classes.items():
        if issubclass(parser_cls, TaskParser) and not issubclass(parser_cls, CamundaLoopParser):
            parser_cls = type(parser_cls.__name__, (CamundaLoopParser, parser_cls), {})
        taught[tag] = (parser_cls, spec_cls)
    return taught


def _bpmn_child(node: Any, local_name: str) -> Any:
    for child in node:
        if isinstance(child.tag, str) and child.tag == f"{{{BPMN_NS}}}{local_name}":
            return child
    return None


def _text(node: Any) -> str | None:
    if node is None:
        return None
    text = (node.text or "").strip()
    return text or None
