"""The SpiffWorkflow boundary (`flowdesk.engine.spiff.internals`): what it assumes of
SpiffWorkflow 3.2, pinned on real workflows, and that no other module of flowdesk reaches
into SpiffWorkflow's private names.

Each test pins one assumption of one boundary function with a workflow parsed from a real BPMN
file, so that an upgrade of SpiffWorkflow that changes it fails here, by name, rather than
somewhere in the engine. The guard at the end scans flowdesk's source.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from flowdesk import handlers
from flowdesk.engine.deployment.parser import FlowdeskParser
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff import internals, triggers
from flowdesk.engine.spiff.multi_instance import MultiInstanceActivity
from flowdesk.engine.spiff.script_engine import CallScope, FlowdeskScriptEngine
from flowdesk.engine.spiff.serializer import InstanceSerializer
from flowdesk.engine.spiff.task_search import FlowdeskWorkflow

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "api" / "data"
MODELS = ROOT / "benchmarks" / "models"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with timer_texts.using_clock(lambda: NOW):
        yield


def flowdesk_workflow(path: Path, process_id: str, **variables: Any) -> Any:
    """A workflow as the engine builds one: flowdesk's parser, workflow and script engine."""
    parser = FlowdeskParser()
    parser.add_bpmn_file(str(path))
    engine = FlowdeskScriptEngine(handlers.HandlerRegistry(), CallScope("i-1", "test", None))
    workflow = FlowdeskWorkflow(
        parser.get_spec(process_id),
        parser.get_subprocess_specs(process_id),
        script_engine=engine,
    )
    workflow.data.update(variables)
    return workflow


def spiff_workflow(tmp_path: Path, xml: str, process_id: str) -> Any:
    """A workflow of SpiffWorkflow's own Camunda parser and specs (no flowdesk spec)."""
    path = tmp_path / f"{process_id}.bpmn"
    path.write_text(xml)
    parser = CamundaParser()
    parser.add_bpmn_file(str(path))
    return BpmnWorkflow(parser.get_spec(process_id), parser.get_subprocess_specs(process_id))


def ready(workflow: Any, element_id: str) -> Any:
    (task,) = [
        t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == element_id
    ]
    return task


def tree(workflow: Any) -> list[tuple[str, str | None, list[str], int]]:
    """Every task of a workflow as (id, parent id, child ids, state), from the public API."""
    return [
        (
            str(t.id),
            str(t.parent.id) if t.parent is not None else None,
            [str(c.id) for c in t.children],
            t.state,
        )
        for t in workflow.tasks.values()
    ]


@pytest.fixture
def review() -> Any:
    """parallel_review.bpmn waiting in both parallel branches."""
    workflow = flowdesk_workflow(DATA / "parallel_review.bpmn", "parallel_review")
    workflow.do_engine_steps()
    return workflow


# -- the task tree ---------------------------------------------------------------------------------


def test_child_ids_are_the_ids_that_task_children_resolves(review: Any) -> None:
    for task in review.tasks.values():
        ids = internals.child_ids(task)
        assert isinstance(ids, list)
        assert [review.tasks[i] for i in ids] == task.children
        assert internals.child_ids(task) is ids  # the tree's own list, not a copy


def test_state_of_is_the_state_the_public_property_gives(review: Any) -> None:
    states = {internals.state_of(t) for t in review.tasks.values()}
    assert {TaskState.COMPLETED, TaskState.READY, TaskState.FUTURE} <= states
    for task in review.tasks.values():
        assert internals.state_of(task) == task.state
    task = ready(review, "Task_legal")
    task.state = TaskState.STARTED  # through the public setter: the same attribute
    assert internals.state_of(task) == TaskState.STARTED


def test_parent_id_is_the_id_that_task_parent_resolves(review: Any) -> None:
    for task in review.tasks.values():
        parent = task.parent
        assert internals.parent_id(task) == (parent.id if parent is not None else None)
    assert internals.parent_id(review.task_tree) is None


def test_rewritten_links_are_the_tree_spiff_walks_serializes_and_loads(review: Any) -> None:
    """Pruning splices a single-child task out by rewriting the ids: Spiff's properties, its
    own iterator and its serializer (which writes and reads the ids) all follow the change."""
    legal = ready(review, "Task_legal")
    fork = legal.parent
    above = fork.parent
    assert internals.child_ids(above) == [fork.id]

    # Splice the fork out: its children hang from its parent.
    for child in fork.children:
        internals.set_parent_id(child, above.id)
    internals.set_child_ids(above, list(internals.child_ids(fork)))
    del review.tasks[fork.id]

    assert legal.parent is above
    assert fork.id not in [t.id for t in above.children]
    walked = BpmnWorkflow.get_tasks(review, state=TaskState.READY)  # Spiff's own iterator
    assert {t.task_spec.bpmn_id for t in walked} == {"Task_legal", "Task_finance"}
    loaded = InstanceSerializer.load(
        InstanceSerializer.dump(review, {}), review.spec, review.subprocess_specs, {}
    )
    assert tree(loaded) == tree(review)


def test_set_state_moves_backwards_without_the_ready_hook(review: Any) -> None:
    """The public setter refuses STARTED to READY; `set_state` does it and runs no hook."""
    task = ready(review, "Task_legal")
    fired: list[Any] = []
    task.task_spec.ready_event.connect(lambda workflow, t: fired.append(t))
    internals.set_state(task, TaskState.STARTED)
    with pytest.raises(WorkflowException):
        task.state = TaskState.READY
    before = task.last_state_change
    internals.set_state(task, TaskState.READY)
    assert task.state == TaskState.READY
    assert task.last_state_change >= before
    assert fired == []


def test_make_ready_runs_the_ready_hook_and_leaves_finished_tasks(review: Any) -> None:
    task = ready(review, "Task_legal")
    fired: list[Any] = []
    task.task_spec.ready_event.connect(lambda workflow, t: fired.append(t))
    internals.set_state(task, TaskState.WAITING)
    internals.make_ready(task)
    assert task.state == TaskState.READY
    assert fired == [task]

    start = next(t for t in review.tasks.values() if t.task_spec.bpmn_id == "Start")
    assert start.state == TaskState.COMPLETED
    internals.make_ready(start)
    assert start.state == TaskState.COMPLETED


def test_add_child_joins_the_tree_in_the_given_state(review: Any) -> None:
    legal = ready(review, "Task_legal")
    (join,) = legal.children
    child = internals.add_child(legal, join.task_spec, TaskState.FUTURE)
    assert isinstance(child, Task)
    assert review.tasks[child.id] is child
    assert child.parent is legal
    assert internals.child_ids(legal)[-1] == child.id
    assert child.state == TaskState.FUTURE
    assert child.thread_id == legal.thread_id

    readied = internals.add_child(legal, join.task_spec, TaskState.READY)
    assert readied.state == TaskState.READY


def test_update_inherits_the_parents_data_and_readies_the_task(review: Any) -> None:
    """`_update` of a plain task: predict, then `_update_hook` merges the parent's data and
    says READY."""
    sign = next(t for t in review.tasks.values() if t.task_spec.bpmn_id == "Task_sign")
    legal = ready(review, "Task_legal")
    legal.data["seen"] = "legal"
    child = internals.add_child(legal, sign.task_spec, TaskState.FUTURE)
    internals.update(child)
    assert child.state == TaskState.READY
    assert child.data["seen"] == "legal"


def test_predict_adds_the_path_below_a_new_task(review: Any) -> None:
    sign = next(t for t in review.tasks.values() if t.task_spec.bpmn_id == "Task_sign")
    legal = ready(review, "Task_legal")
    child = internals.add_child(legal, sign.task_spec, TaskState.FUTURE)
    assert child.children == []
    internals.predict(child, TaskState.FUTURE | TaskState.PREDICTED_MASK)
    (end,) = child.children
    assert end.task_spec.bpmn_id == "End"
    assert end.state == TaskState.FUTURE  # below a definite task: definite


def test_sync_children_keeps_only_the_given_specs(review: Any) -> None:
    sign = next(t for t in review.tasks.values() if t.task_spec.bpmn_id == "Task_sign")
    end_spec = sign.children[0].task_spec
    legal = ready(review, "Task_legal")
    (join,) = legal.children
    assert join.state != TaskState.COMPLETED
    internals.set_state(join, TaskState.LIKELY)  # predicted: may be removed
    internals.sync_children(legal, [end_spec], TaskState.FUTURE)
    assert [c.task_spec for c in legal.children] == [end_spec]
    assert legal.children[0].state == TaskState.FUTURE
    assert join.id not in review.tasks


def test_drop_children_with_force_removes_finished_ones_too(review: Any) -> None:
    legal = ready(review, "Task_legal")
    (fork,) = [legal.parent]
    doomed = [t.id for t in fork.children]
    internals.set_state(fork.children[0], TaskState.COMPLETED)
    internals.drop_children(fork, force=True)
    assert fork.children == []
    assert not any(i in review.tasks for i in doomed)


def test_inherit_data_merges_the_parents_data(review: Any) -> None:
    legal = ready(review, "Task_legal")
    legal.parent.data["from_parent"] = 1
    legal.data["own"] = 2
    internals.inherit_data(legal)
    assert legal.data["from_parent"] == 1
    assert legal.data["own"] == 2


# -- spec life cycle and the engine loop -----------------------------------------------------------


def test_condition_matches_evaluates_a_flow_condition_with_the_task_data() -> None:
    workflow = flowdesk_workflow(MODELS / "loop.bpmn", "loop", round=0, n=2)
    workflow.do_engine_steps()
    work = ready(workflow, "Task_work")
    gateway = workflow.spec.task_specs["Gateway_more"]
    (again,) = [c for c, output in gateway.cond_task_specs if output == "Task_work"]
    work.data.update(round=1, n=2)
    assert internals.condition_matches(again, work) is True
    work.data.update(round=2)
    assert internals.condition_matches(again, work) is False


def test_run_engine_steps_runs_the_ready_engine_tasks_once_per_pass() -> None:
    """One pass runs what was READY when it began; it says whether anything ran."""
    workflow = flowdesk_workflow(MODELS / "loop.bpmn", "loop", round=0, n=2)
    passes = 0
    while internals.run_engine_steps(workflow):
        passes += 1
    assert passes > 1  # Spiff's Start, the start event, ...: one pass each
    assert [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY)] == ["Task_work"]
    assert internals.run_engine_steps(workflow) is False  # a user task is manual


def test_run_engine_steps_takes_the_completion_callbacks() -> None:
    workflow = flowdesk_workflow(MODELS / "loop.bpmn", "loop", round=0, n=2)
    before: list[str] = []
    after: list[str] = []
    while internals.run_engine_steps(
        workflow,
        lambda t: before.append(t.task_spec.name),
        lambda t: after.append(t.task_spec.name),
    ):
        pass
    assert before == after
    assert "StartEvent_1" in after


def test_multi_instance_children_are_the_instances_of_a_body() -> None:
    workflow = flowdesk_workflow(
        DATA / "mi_user_tasks.bpmn", "mi_parallel_review", reviewers=["ann", "bob"], document="d"
    )
    workflow.do_engine_steps()
    (body,) = [t for t in workflow.tasks.values() if isinstance(t.task_spec, MultiInstanceActivity)]
    instances = list(internals.multi_instance_children(body))
    assert len(instances) == 2
    assert all(t.parent is body for t in instances)
    assert {t.task_spec.name for t in instances} == {body.task_spec.task_spec}
    after = [c for c in body.children if c not in instances]  # the path after the body
    assert [c.task_spec.name for c in after] == ["parallel_summary"]


# -- parsing ---------------------------------------------------------------------------------------


def test_copy_task_attrs_makes_the_multi_instance_body_take_the_activitys_place() -> None:
    parser = FlowdeskParser()
    parser.add_bpmn_file(str(DATA / "mi_user_tasks.bpmn"))
    spec = parser.get_spec("mi_parallel_review")
    body = spec.task_specs["parallel_review"]
    assert isinstance(body, MultiInstanceActivity)
    inner = spec.task_specs[body.task_spec]
    assert inner.name == "parallel_review [child]"
    assert inner.inputs == [body]
    assert inner.outputs == []
    assert [s.name for s in body.outputs] == ["parallel_summary"]


RECEIVE_WITHOUT_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:receiveTask id="wait_ok" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_ok" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait_ok" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_create_event_task_builds_a_receive_task_that_waits_for_a_trigger(
    tmp_path: Path,
) -> None:
    """The event spec Spiff's event parser builds, with flowdesk's trigger definition; marked
    fired and updated, it runs on (`triggers.fire`)."""
    path = tmp_path / "receive.bpmn"
    path.write_text(RECEIVE_WITHOUT_MESSAGE)
    workflow = flowdesk_workflow(path, "p")
    spec = workflow.spec.task_specs["wait_ok"]
    assert isinstance(spec.event_definition, triggers.TriggerDefinition)
    workflow.do_engine_steps()
    (task,) = triggers.waiting_tasks(workflow, "wait_ok")
    assert task in workflow.event_manager.tasks.values()  # a catching event: Spiff tracks it
    triggers.fire(task)
    assert task.state == TaskState.READY
    workflow.do_engine_steps()
    assert workflow.completed


# -- internal data conventions ---------------------------------------------------------------------

SIGNAL_GATEWAY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:signal id="Sig_go" name="go" />
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:eventBasedGateway id="gateway" />
    <bpmn:intermediateCatchEvent id="catch_go">
      <bpmn:signalEventDefinition signalRef="Sig_go" />
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="timer">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end_go" />
    <bpmn:endEvent id="end_timer" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gateway" />
    <bpmn:sequenceFlow id="f2" sourceRef="gateway" targetRef="catch_go" />
    <bpmn:sequenceFlow id="f3" sourceRef="gateway" targetRef="timer" />
    <bpmn:sequenceFlow id="f4" sourceRef="catch_go" targetRef="end_go" />
    <bpmn:sequenceFlow id="f5" sourceRef="timer" targetRef="end_timer" />
  </bpmn:process>
</bpmn:definitions>
"""

SIGNAL_CATCH = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:signal id="Sig_go" name="go" />
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:intermediateCatchEvent id="catch_go">
      <bpmn:signalEventDefinition signalRef="Sig_go" />
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="timer">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="catch_go" />
    <bpmn:sequenceFlow id="f2" sourceRef="catch_go" targetRef="timer" />
    <bpmn:sequenceFlow id="f3" sourceRef="timer" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def waiting(workflow: Any, element_id: str) -> Any:
    (task,) = [
        t for t in workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == element_id
    ]
    return task


def test_spiff_marks_a_caught_event_fired_under_the_key_event_fired(tmp_path: Path) -> None:
    workflow = spiff_workflow(tmp_path, SIGNAL_CATCH, "p")
    workflow.do_engine_steps()
    catch = waiting(workflow, "catch_go")
    definition = catch.task_spec.event_definition
    assert internals.event_fired(catch) is definition.has_fired(catch) is False
    workflow.send_event(BpmnEvent(SignalEventDefinition("go"), {}))
    assert internals.EVENT_FIRED in catch.internal_data
    assert internals.event_fired(catch) is definition.has_fired(catch) is True


def test_an_event_marked_fired_is_taken_by_spiffs_next_update(tmp_path: Path) -> None:
    workflow = spiff_workflow(tmp_path, SIGNAL_CATCH, "p")
    workflow.do_engine_steps()
    catch = waiting(workflow, "catch_go")
    internals.mark_event_fired(catch)
    assert catch.task_spec.event_definition.has_fired(catch)
    internals.update(catch)
    assert catch.state == TaskState.READY


def test_spiffs_timers_keep_their_value_under_event_value_from_the_installed_clock(
    tmp_path: Path,
) -> None:
    """Spiff's own duration timer, evaluated on the flowdesk clock: the clock patch and the
    `event_value` key flowdesk's timers keep their schedule under."""
    workflow = spiff_workflow(tmp_path, SIGNAL_CATCH, "p")
    workflow.do_engine_steps()
    workflow.send_event(BpmnEvent(SignalEventDefinition("go"), {}))
    workflow.do_engine_steps()
    timer = waiting(workflow, "timer")
    assert timer.internal_data[internals.EVENT_VALUE] == ((NOW + timedelta(hours=1)).isoformat())
    later = NOW + timedelta(hours=1, seconds=1)
    with timer_texts.using_clock(lambda: later):
        workflow.refresh_timers()
    assert timer.state == TaskState.READY
    assert internals.event_fired(timer)


def test_the_timer_clock_is_installed_in_spiffs_timer_module() -> None:
    """Spiff's timer module calls `datetime.now(timezone.utc)` and also uses its `datetime`
    for parsing and type checks; all of it goes through the installed class."""
    patched = spiff_timer.datetime
    assert patched is not datetime and issubclass(patched, datetime)
    assert patched.now(UTC) == NOW
    assert spiff_timer.TimerEventDefinition.get_datetime("2026-01-01T10:00:00+00:00") == (
        datetime(2026, 1, 1, 10, tzinfo=UTC)
    )
    naive = datetime(2026, 1, 1)  # refused: the clock must be aware
    with timer_texts.using_clock(lambda: naive), pytest.raises(ValueError, match="timezone-aware"):
        patched.now(UTC)


def test_key_or_index_is_the_instance_spiffs_task_info_reports() -> None:
    workflow = flowdesk_workflow(
        DATA / "mi_user_tasks.bpmn", "mi_parallel_review", reviewers=["ann", "bob"], document="d"
    )
    workflow.do_engine_steps()
    (body,) = [t for t in workflow.tasks.values() if isinstance(t.task_spec, MultiInstanceActivity)]
    instances = list(internals.multi_instance_children(body))
    assert [t.task_spec.task_info(t)["instance"] for t in instances] == [0, 1]
    internals.set_instance_key(instances[1], 7)
    assert instances[1].task_spec.task_info(instances[1])["instance"] == 7


def test_an_event_gateway_keeps_the_events_it_saw_under_seen_events(tmp_path: Path) -> None:
    workflow = spiff_workflow(tmp_path, SIGNAL_GATEWAY, "p")
    workflow.do_engine_steps()
    workflow.send_event(BpmnEvent(SignalEventDefinition("go"), {}))
    workflow.do_engine_steps()
    (gateway,) = [t for t in workflow.tasks.values() if isinstance(t.task_spec, EventBasedGateway)]
    assert gateway.state == TaskState.COMPLETED
    assert workflow.completed
    seen = gateway.internal_data["seen_events"]
    assert [e.event_definition.name for e in seen] == ["go"]
    internals.forget_seen_events(gateway)
    assert "seen_events" not in gateway.internal_data


# -- the serializer --------------------------------------------------------------------------------


def test_a_stored_state_keeps_the_tree_spiffs_loader_rebuilds(review: Any) -> None:
    """flowdesk writes each task's dict itself (`serializer`); Spiff's converter reads it back:
    parent and child ids, state and the data delta against the parent."""
    ready(review, "Task_legal").data["legal_ok"] = True
    state = json.loads(InstanceSerializer.dump(review, {}))
    for task in state["tasks"].values():
        assert {"id", "parent", "children", "state", "data", "delta", "internal_data"} <= set(task)
    loaded = InstanceSerializer.load(
        InstanceSerializer.dump(review, {}), review.spec, review.subprocess_specs, {}
    )
    assert tree(loaded) == tree(review)
    assert [t.data for t in loaded.tasks.values()] == [t.data for t in review.tasks.values()]


# -- overrides of Spiff's methods ------------------------------------------------------------------


def test_flowdesk_overrides_only_underscore_methods_a_spiff_base_defines() -> None:
    """A flowdesk spec or parser overriding a Spiff method whose name begins with an underscore
    (a hook such as `_run_hook`) only works while a Spiff base class still has it; that Spiff
    calls it, the behaviour tests of each construct show."""
    import importlib
    import pkgutil

    import flowdesk.engine

    checked = 0
    for info in pkgutil.walk_packages(flowdesk.engine.__path__, "flowdesk.engine."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            spiff_bases = [b for b in value.__mro__ if b.__module__.startswith("SpiffWorkflow")]
            if not spiff_bases:
                continue
            for name in vars(value):
                if name.startswith("_") and not name.startswith("__") and name in SPIFF_PRIVATE:
                    assert any(name in vars(b) for b in spiff_bases), (value, name)
                    checked += 1
    assert checked >= 10


# -- the guard -------------------------------------------------------------------------------------

BOUNDARY = ROOT / "flowdesk" / "engine" / "spiff" / "internals.py"


def _spiff_private_names() -> frozenset[str]:
    """The underscore names SpiffWorkflow defines: methods, classes, attributes it assigns,
    module-level names (found by `ast` over the installed package)."""
    import SpiffWorkflow

    names: set[str] = set()
    for path in Path(SpiffWorkflow.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


SPIFF_PRIVATE = _spiff_private_names()


class _Guard(ast.NodeVisitor):
    """Finds the uses of SpiffWorkflow's private names in one module.

    Flagged: an attribute with a Spiff private name (`task._parent`, `spec._update(...)`,
    `getattr(task, "_parent")`), an import of an underscore name from SpiffWorkflow, and an
    assignment to an attribute of something imported from SpiffWorkflow (a monkeypatch).
    Allowed, being a class's own business: `self._x` or `cls._x` in a class that defines `_x`
    itself (its own attribute, or its override of a Spiff method), and `super()._x(...)` in a
    method `_x` (an override calling Spiff's version of the hook it overrides).
    """

    def __init__(self) -> None:
        self.found: list[str] = []
        self._classes: list[set[str]] = []
        self._functions: list[str] = []
        self._spiff_bindings: set[str] = set()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        own: set[str] = set()
        for item in ast.walk(node):
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                own.add(item.name)
            elif (
                isinstance(item, ast.Attribute)
                and isinstance(item.ctx, ast.Store)
                and isinstance(item.value, ast.Name)
                and item.value.id in ("self", "cls")
            ):
                own.add(item.attr)
            elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
                own.add(item.id)  # class attributes
        self._classes.append(own)
        self.generic_visit(node)
        self._classes.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "SpiffWorkflow":
                self._spiff_bindings.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if (node.module or "").split(".")[0] != "SpiffWorkflow":
            return
        for alias in node.names:
            if alias.name.startswith("_"):
                self._flag(node, f"imports {alias.name} from {node.module}")
            self._spiff_bindings.add(alias.asname or alias.name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in SPIFF_PRIVATE and not self._own(node.value, node.attr):
            self._flag(node, f"{ast.unparse(node.value)}.{node.attr}")
        if (
            isinstance(node.ctx, (ast.Store, ast.Del))
            and isinstance(node.value, ast.Name)
            and node.value.id in self._spiff_bindings
        ):
            self._flag(node, f"patches {node.value.id}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in SPIFF_PRIVATE
        ):
            self._flag(node, f"{node.func.id}(..., {node.args[1].value!r})")
        self.generic_visit(node)

    def _own(self, value: ast.expr, name: str) -> bool:
        if isinstance(value, ast.Name) and value.id in ("self", "cls"):
            return bool(self._classes) and name in self._classes[-1]
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "super"
            and bool(self._functions)
            and self._functions[-1] == name
        )

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"line {getattr(node, 'lineno', '?')}: {what}")


def spiff_private_uses(source: str) -> list[str]:
    """The uses of SpiffWorkflow private names in a module's source (see `_Guard`)."""
    guard = _Guard()
    guard.visit(ast.parse(source))
    return guard.found


def test_the_guard_knows_the_private_names_flowdesk_relied_on() -> None:
    assert {
        "_parent",
        "_children",
        "_state",
        "_set_state",
        "_add_child",
        "_do_engine_steps",
        "_update",
        "_predict",
        "_ready",
        "_matches",
        "_create_task",
        "_copy_task_attrs",
        "_instances",
    } <= SPIFF_PRIVATE


def test_no_module_but_the_boundary_uses_a_spiffworkflow_private_name() -> None:
    found = {
        str(path.relative_to(ROOT)): uses
        for path in sorted((ROOT / "flowdesk").rglob("*.py"))
        if path != BOUNDARY and (uses := spiff_private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "use flowdesk.engine.spiff.internals (see docs/architecture.md)"


def test_the_guard_sees_the_boundarys_own_uses() -> None:
    """The scan is not blind: the boundary module itself is full of what it forbids."""
    uses = spiff_private_uses(BOUNDARY.read_text(encoding="utf-8"))
    assert any("._parent" in u for u in uses)
    assert any("._do_engine_steps" in u for u in uses)
    assert any("patches" in u and ".datetime" in u for u in uses)


NEW_MODULE = """
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.specs.base import TaskSpec

class Hook(TaskSpec):
    def _run_hook(self, my_task):
        return super()._run_hook(my_task)   # allowed: an override calling Spiff's hook

    def _mine(self):
        return self._mine                    # allowed: the class's own name
"""


@pytest.mark.parametrize(
    ("added", "flagged"),
    [
        ("", None),
        ("def up(task):\n    return task._parent\n", "task._parent"),
        ("def kids(task):\n    return task.children[0]._children\n", "._children"),
        ("def step(wf):\n    wf._do_engine_steps()\n", "wf._do_engine_steps"),
        ("def force(task):\n    task.task_spec._update(task)\n", "task.task_spec._update"),
        ("def sneak(task):\n    return getattr(task, '_state')\n", "getattr(..., '_state')"),
        ("from SpiffWorkflow.task import _private_thing\n", "imports _private_thing"),
        ("spiff_timer.datetime = object\n", "patches spiff_timer.datetime"),
        (
            "class Other(TaskSpec):\n    def _run_hook(self, my_task):\n"
            "        return super()._update(my_task)\n",
            "super()._update",
        ),
        ("class Borrow(TaskSpec):\n    def run(self, t):\n        self._predict(t)\n", "_predict"),
    ],
)
def test_the_guard_flags_a_new_private_use_in_any_other_module(
    added: str, flagged: str | None
) -> None:
    uses = spiff_private_uses(NEW_MODULE + "\n" + added)
    if flagged is None:
        assert uses == []
    else:
        assert len(uses) == 1 and flagged in uses[0], uses
