"""Workflow state as JSON, without the spec.

SpiffWorkflow's serializer embeds the whole parsed spec (and every called process's spec) in
each workflow's JSON. flowdesk stores the BPMN once per deployed version and caches its parsed
spec, so an instance's state keeps only the spec's name: smaller rows, faster loads, and one
source of truth for the model.

Process variables live in the workflow's `data` and in the tasks' `data` as the caller gave
them (see `variable_types`). Spiff stores each task's data as its changes against its parent's;
a task without a parent (the root of the tree, which pruning moves up to the oldest live task)
would hold a full copy of every variable, beside the workflow's own. flowdesk stores that
root's data as its changes against the workflow's data instead (`"base": "workflow"` in its
delta), so a large variable is in the state once, not twice.

The instance's variables are also stored in their own column (`instances.variables`, for
queries), written in the same `UPDATE` as the state. A long text variable is therefore not
written into the state again: the workflow's data holds `{"typename": "flowdesk_variable"}` in
its place, and loading takes the text from the column (`InstanceSerializer.load`'s
`variables`). Only texts qualify: the column stores a text as it is, so the two are the same
characters; other values are encoded differently in the column (see `variable_types`).

SpiffWorkflow's JSON gives non-JSON values a `typename` key ({"typename": "datetime", ...}) and
reads every dict with such a key back as that type. A variable's own dict may hold a key named
`typename` too; unescaped it would come back as a datetime, or break every later load of the
instance when no such type exists. So such a dict is stored wrapped as
`{"typename": "flowdesk_dict", "items": {...}}`. Dates and bytes, which Spiff cannot store, are
registered here as well.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge

from flowdesk.engine.spiff.internals import child_ids, parent_id, state_of
from flowdesk.engine.spiff.task_search import FlowdeskWorkflow
from flowdesk.errors import StoreError

# Bump when the shape of the stored JSON changes; the store keeps it beside each state.
# flowdesk-2: the root task's data is stored against the workflow's (flowdesk-1 states load too).
# flowdesk-3: long texts of the workflow's data are read from the variables column.
# flowdesk-4: a user task with an open row is marked as such (`WorkflowRun.task_rows`).
SERIALIZER_VERSION = "flowdesk-4"
# A text of the workflow's data this long or longer is stored in the variables column only.
# Shorter ones stay in the state: the saving would not pay for the marker and the lookup.
SHARED_TEXT_MIN = 1024
_SHARED = {"typename": "flowdesk_variable"}
# The versions whose states take long texts from the variables column.
_SHARES_TEXTS = frozenset({"flowdesk-3", SERIALIZER_VERSION})
# The variables column of the save in progress (see `InstanceSerializer.dump`).
_columns: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "flowdesk_variables_column", default=None
)
# The delta key that says a root task's changes are against the workflow's data.
_BASE = "base"
_WORKFLOW_BASE = "workflow"


class _InstanceOnlyConverter(BpmnWorkflowConverter):  # type: ignore[misc]  # Spiff is untyped
    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocess_specs"] = sorted(workflow.subprocess_specs)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        _escape_task_data(dct)
        # After the escaping, which would wrap the marker as a variable's own dict.
        columns = _columns.get() or {}
        data = dct["data"]
        for key, value in workflow.data.items():
            if type(value) is str and len(value) >= SHARED_TEXT_MIN and columns.get(key) is value:
                data[key] = dict(_SHARED)
        return dct

    def from_dict(
        self,
        dct: dict[str, Any],
        spec: Any = None,
        subprocess_specs: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        # Before the tasks: the root task's data is stored against it.
        data = self.registry.restore(dct.pop("data", {}))
        workflow.data = data
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        workflow.data = data
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _TaskConverter(TaskConverter):  # type: ignore[misc]  # Spiff is untyped
    """Spiff's `TaskConverter.to_dict`, giving the same dict with less work per task.

    Spiff looks the parent up three times (a property doing a dict lookup each time) and runs
    the registry over internal data with nothing in it to convert; a save converts every task
    of the tree. `VERIFY` compares each dict with Spiff's (the tests turn it on).
    """

    def to_dict(self, task: Any) -> dict[str, Any]:
        parent_ref = parent_id(task)
        parent = task.workflow.tasks.get(parent_ref) if parent_ref is not None else None
        if parent is None and task.workflow is task.workflow.top_workflow:
            data, delta = {}, _changes(task.workflow.data, task.data)
            delta[_BASE] = _WORKFLOW_BASE
        elif parent is None:
            data, delta = task.data, {}
        else:
            before, after = parent.data, task.data
            data = {}
            delta = _changes(before, after)
        internal = task.internal_data
        dct = {
            "id": _uuid_text(task.id),
            "parent": _uuid_text(parent_ref) if parent is not None else None,
            "children": [_uuid_text(child) for child in child_ids(task)],
            "last_state_change": task.last_state_change,
            "state": state_of(task),
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(internal) if internal else {},
            "data": data,
            "delta": delta,
        }
        if VERIFY:
            expected = super().to_dict(task)
            if delta.get(_BASE) == _WORKFLOW_BASE:
                expected["data"], expected["delta"] = data, delta
            if dct != expected:
                mismatches.append(f"task {task.id}: {dct} != Spiff's {expected}")
        return dct

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        delta = dct.get("delta")
        if not delta or delta.get(_BASE) != _WORKFLOW_BASE:
            return super().from_dict(dct, workflow)
        task = super().from_dict({**dct, "delta": {}, "data": {}}, workflow)
        # As Spiff restores a child's data from its parent's (see TaskConverter.from_dict).
        data = DeepMerge.merge({}, workflow.data)
        data.update(self.registry.restore(delta.get("updates", {})))
        for key in delta.get("deletions", []):
            data.pop(key, None)
        task.data = data
        return task


# A save writes every task's id, its parent's and its children's: `UUID.__str__` is Python
# code and was a sixth of converting a workflow; the same tasks are saved step after step.
_uuid_text = functools.lru_cache(maxsize=4096)(str)


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Spiff's task delta: the keys `after` adds or changes, and those it deletes."""
    return {
        "updates": {
            key: value for key, value in after.items() if key not in before or value != before[key]
        },
        "deletions": [key for key in before if key not in after],
    }


VERIFY = False
"""When true, each task dict is compared with Spiff's own and differences are recorded in
`mismatches`; the tests turn it on."""

mismatches: list[str] = []


# The typename of a variable's dict that holds a `typename` key of its own.
_ESCAPED_DICT = "flowdesk_dict"


def _escape_task_data(workflow_dct: dict[str, Any]) -> None:
    """Wrap, in every task's data of a workflow dict and its sub-workflows, the dicts of
    variables that hold a `typename` key (see the module docstring)."""
    if "data" in workflow_dct:  # the workflow's own data: what its end events copied up
        workflow_dct["data"] = _escaped(workflow_dct["data"])
    for task in workflow_dct.get("tasks", {}).values():
        task["data"] = _escaped(task.get("data"))
        # Spiff keeps a caught message's payload here until the task takes it over. (Spiff's
        # own objects are still objects at this point: the JSON encoder converts them later.)
        task["internal_data"] = _escaped(task.get("internal_data"))
        delta = task.get("delta")
        if delta and "updates" in delta:
            delta["updates"] = _escaped(delta["updates"])
    for sub in workflow_dct.get("subprocesses", {}).values():
        _escape_task_data(sub)


def _escaped(value: Any) -> Any:
    """`value` with its typename-holding dicts wrapped; the same object when none is found,
    so the tasks' live data (which the dict still shares) is never changed."""
    if isinstance(value, dict):
        if not value:
            return value  # most tasks' data, internal data and updates: nothing to look at
        if "typename" not in value and not any(
            isinstance(item, (dict, list)) for item in value.values()
        ):
            return value  # the common case, flat variables: nothing to copy or compare
        items = {key: _escaped(item) for key, item in value.items()}
        changed = any(items[key] is not item for key, item in value.items())
        if "typename" in value:
            return {"typename": _ESCAPED_DICT, "items": items}
        return items if changed else value
    if isinstance(value, list):
        listed = [_escaped(item) for item in value]
        return listed if any(a is not b for a, b in zip(listed, value, strict=True)) else value
    return value


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _InstanceOnlyConverter
    config[Task] = _TaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Instances are `FlowdeskWorkflow`s (see `task_search`), stored under Spiff's typename so
    # that states saved before (and after) read the same; the converter registers itself.
    _InstanceOnlyConverter(FlowdeskWorkflow, registry, typename="BpmnWorkflow")
    # Camunda's Date may be a plain date; Bytes are Camunda's byte arrays. Spiff knows neither.
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
    )
    registry.register(
        bytes,
        lambda v: {"value": base64.b64encode(v).decode("ascii")},
        lambda v: base64.b64decode(v["value"]),
    )
    registry.register(
        Mapping,
        lambda v: {"items": dict(v)},
        lambda v: {key: registry.restore(item) for key, item in v["items"].items()},
        typename=_ESCAPED_DICT,
    )
    return BpmnWorkflowSerializer(registry, version=SERIALIZER_VERSION)


class InstanceSerializer:
    """Dump and load a workflow's state; the spec is given back on load."""

    _serializer = _make_serializer()

    @classmethod
    def dump(cls, workflow: Any, variables: Mapping[str, Any]) -> str:
        """The workflow's state; `variables` is what the same save writes to the variables
        column (a text found there, the same object, is not written again: see module)."""
        token = _columns.set(variables)
        try:
            return cls._serializer.serialize_json(workflow)  # type: ignore[no-any-return]
        finally:
            _columns.reset(token)

    @classmethod
    def load(
        cls, state: str, spec: Any, subprocess_specs: dict[str, Any], variables: Mapping[str, Any]
    ) -> Any:
        """The workflow of a state; `variables` is the variables column saved with it, as
        stored (texts are stored as they are)."""
        dct = json.loads(state)
        version = dct.pop(cls._serializer.VERSION_KEY, None)
        if version in _SHARES_TEXTS:
            data = dct.get("data", {})
            for key in [key for key, value in data.items() if value == _SHARED]:
                text = variables.get(key)
                if not isinstance(text, str):
                    # Both are written by one UPDATE: only an edit of the row by hand gets here.
                    raise StoreError(
                        f"the stored workflow state takes variable {key!r} from the variables "
                        "column, which holds no text of that name"
                    )
                data[key] = text
        workflow = cls._serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        workflow.marks_task_rows = version == SERIALIZER_VERSION
        return workflow
