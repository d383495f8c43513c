"""Corpus processes run the path Camunda 7 runs, with its variables, not only to some end.

`test_corpus.py` says whether each corpus process completes; this module checks *how*. For
a sample of corpus files whose behaviour a Camunda test or example pins down, each
`Expectation` drives flowdesk as that Java test drives Camunda (same start variables, same
tasks completed with the same data, same messages, signals and clock moves) and compares:

- the **path**: the activities of the instance that finished, in the order they finished,
  as Camunda's `HistoricActivityInstance`s with an end time and not cancelled. Conventions:
  a multi-instance body is listed under its activity's id (Camunda: `<id>#multiInstanceBody`),
  a joining gateway once, and link events not at all (Camunda records no activity for them,
  see `LinkEventTest.testEventLinkMultipleSources`). `ordered=False` compares the path as a
  multiset where parallel branches finish in an order the Java test does not fix;
- the **checks** along the way the Java test asserts (open tasks, instances, jobs, candidate
  groups), and the end state and variables.

Each expectation names its source: the Java test (class and method in camunda-bpm-platform,
or the example's test) and the assertions its path and variables come from; where the Java
test asserts less than the whole path, the rest follows from the model under Camunda's
semantics, as the comment says. A mismatch is a finding: it stays here as a strict xfail
naming the cause, so it turns into a failure (to be promoted) the day it is fixed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from corpus import CORPUS_ENV, START, Clock, Corpus, NullService, corpus_root, link_deployment
from lxml import etree

import flowdesk

ROOT = corpus_root()
if ROOT is None:
    pytest.skip(
        f"no conformance corpus: set {CORPUS_ENV} to its folder (it is not shipped with flowdesk)",
        allow_module_level=True,
    )
CORPUS = Corpus(ROOT)
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


# -- what a Java test does, step by step ----------------------------------------------------


@dataclass
class Drive:
    """One engine, one deployment, and the instance being driven."""

    engine: flowdesk.Engine
    clock: Clock
    key: str
    root_id: str | None = None

    def root(self) -> flowdesk.ProcessInstance:
        """The instance under test: the one started, else the first one of the process."""
        if self.root_id is None:
            instances = self.engine.instances(key=self.key)
            assert instances, f"no instance of {self.key!r}"
            self.root_id = instances[0].id
        return self.engine.instance(self.root_id)

    def family(self) -> list[str]:
        """The instance and, transitively, the instances its call activities started."""
        found = [self.root().id]
        for instance_id in found:
            found += [i.id for i in self.engine.instances(parent_id=instance_id)]
        return found

    def open_tasks(self) -> list[flowdesk.Task]:
        return [t for i in self.family() for t in self.engine.tasks(instance_id=i)]


Step = Callable[[Drive], None]


def _one_task(drive: Drive, element: str) -> flowdesk.Task:
    tasks = [t for t in drive.open_tasks() if t.element_id == element]
    assert len(tasks) == 1, f"one open task {element!r} expected: {drive.root().incident}"
    return tasks[0]


def complete(element: str, data: Mapping[str, Any] | None = None, *, count: int = 1) -> Step:
    """`taskService.complete` on `count` open tasks of the activity (oldest first)."""

    def step(drive: Drive) -> None:
        tasks = [t for t in drive.open_tasks() if t.element_id == element][:count]
        assert len(tasks) == count, f"{count} open task(s) {element!r}, found {len(tasks)}"
        for task in tasks:
            drive.engine.complete(task.id, dict(data or {}))

    return step


def correlate(message: str) -> Step:
    """`runtimeService.correlateMessage` / `messageEventReceived`."""
    return lambda drive: drive.engine.correlate(message) and None


def move_clock(**delta: float) -> Step:
    """`ClockUtil.setCurrentTime(now + delta)`, then the due jobs run (`executeAllJobs`)."""

    def step(drive: Drive) -> None:
        drive.clock.now += timedelta(**delta)
        drive.engine.run_due_jobs()

    return step


def set_clock(moment: datetime) -> Step:
    """`ClockUtil.setCurrentTime(moment)`, then the due jobs run."""

    def step(drive: Drive) -> None:
        drive.clock.now = moment
        drive.engine.run_due_jobs()

    return step


def execute_job() -> Step:
    """`managementService.executeJob` on the one job: the clock moves to its due time."""

    def step(drive: Drive) -> None:
        jobs = drive.engine.jobs()
        assert len(jobs) == 1, f"one job expected, found {[j.element_id for j in jobs]}"
        drive.clock.now = max(drive.clock.now, jobs[0].due_at)
        drive.engine.run_due_jobs()

    return step


def claim(element: str, user: str) -> Step:
    """`taskService.claim` on the one open task of the activity."""

    def step(drive: Drive) -> None:
        task = _one_task(drive, element)
        drive.engine.claim(task.id, user=user)

    return step


def assignee(element: str, user: str | None) -> Step:
    """`assertThat(task).isAssignedTo(user)` (None: `isNotAssigned()`)."""

    def step(drive: Drive) -> None:
        task = _one_task(drive, element)
        assert task.assignee == user

    return step


def variables_are(**expected: Any) -> Step:
    """`assertThat(processInstance).variables().hasSize(n).containsEntry(...)`: all of them."""

    def step(drive: Drive) -> None:
        assert drive.root().variables == expected

    return step


def open_tasks(*elements: str) -> Step:
    """The activities of the open tasks (of the instance and the instances it called)."""

    def step(drive: Drive) -> None:
        assert sorted(t.element_id for t in drive.open_tasks()) == sorted(elements)

    return step


def candidate_groups(element: str, *groups: str) -> Step:
    """`taskService.getIdentityLinksForTask`: the candidate groups of the open task."""

    def step(drive: Drive) -> None:
        task = _one_task(drive, element)
        assert sorted(task.candidate_groups) == sorted(groups)

    return step


def counts(*, instances: int | None = None, jobs: int | None = None) -> Step:
    """`createProcessInstanceQuery().count()` (running instances of the process) and
    `createJobQuery().count()` (jobs not yet run)."""

    def step(drive: Drive) -> None:
        if instances is not None:
            running = drive.engine.instances(key=drive.key, state="running")
            assert len(running) == instances, f"running instances: {len(running)}"
        if jobs is not None:
            waiting = [j for j in drive.engine.jobs() if j.state == "waiting"]
            assert len(waiting) == jobs, f"jobs: {[j.element_id for j in waiting]}"

    return step


class RecordingBean:
    """A Mockito mock registered with `Mocks.register`: records each call, returns a stub.

    `when(bean.method(args)).thenReturn(value)` becomes `returns={"method": value}`; every
    other method returns None, as a mock does.
    """

    def __init__(self, name: str, returns: Mapping[str, Any]) -> None:
        self.name = name
        self.returns = dict(returns)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, call: flowdesk.ServiceCall) -> None:
        self.calls.append(("execute", ()))

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def record(*args: Any) -> Any:
            self.calls.append((method, args))
            return self.returns.get(method)

        return record


# -- the expectations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What a Camunda test says one corpus process does, and where it says so."""

    name: str
    file: str
    key: str
    source: str  # the Java test and the assertions the expectation comes from
    steps: tuple[Step, ...]
    state: str  # "completed" or "running" at the end
    path: tuple[str, ...] | None  # None: the Java test pins down no path
    ordered: bool = True
    variables: Mapping[str, Any] = field(default_factory=dict)  # a subset of the end's
    # None: started with `engine.start(key, start)`; a timer start event starts it otherwise.
    start: Mapping[str, Any] | None = field(default_factory=dict)
    # Service implementations that do what the Java test's delegate does (else: do nothing).
    services: Mapping[str, Callable[[flowdesk.ServiceCall], Any]] = field(default_factory=dict)
    # Who is in which group (Camunda's identity service); flowdesk lets only candidates claim.
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Mocked beans, by name: the methods whose stubbed results the Java test gives.
    beans: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The bean calls Mockito verifies (`verify` + `verifyNoMoreInteractions`), in any order.
    calls: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    xfail: str | None = None  # why flowdesk does otherwise (a finding), strict
    # What the mismatch raises: AssertionError for a different path, state or variable.
    xfail_raises: type[Exception] = AssertionError


INVOICE_START = {
    "creditor": "Great Pizza for Everyone Inc.",
    "amount": 300.0,
    "invoiceCategory": "Travel Expenses",
    "invoiceNumber": "GPFE-23232323",
}


def _throw_e1(call: flowdesk.ServiceCall) -> None:
    # ThrowErrorInLoopDelegate.execute: `throw new BpmnError("E1")`.
    raise flowdesk.BpmnError("E1")


PUBLICATION = "camunda-examples/camunda-testing-job-announcement-publication.bpmn"
PUBLICATION_TEST = (
    "camunda-bpm-examples testing/assert JobAnnouncementPublicationProcessTest.{}: verify "
    "postToWebsite(1){} and never the others, verifyNoMoreInteractions; hasPassed({}); isEnded"
)
PUBLICATION_KEY = "camunda-testing-job-announcement-publication"
JOB_SERVICE = "jobAnnouncementService"


def _publication(twitter: bool, facebook: bool, test: str) -> Expectation:
    """One of the four runs of the publication sub-process: website, then the chosen others."""
    chosen = [c for c, on in (("Twitter", twitter), ("Facebook", facebook)) if on]
    path = ["Event_0izgki4", "publish_announcement_website", "Gateway_0z7rp9m"]
    path += ["Gateway_0c0k10n", "Gateway_030yxlx", "Gateway_1bdrrsh", "Gateway_0j1qkse"]
    path += [f"publish_announcement_{c.lower()}" for c in chosen]
    path += ["Gateway_1loiva2", "Event_087qk1c"]
    return Expectation(
        f"job-publication-{'-'.join(c.lower() for c in chosen) or 'website-only'}",
        PUBLICATION,
        PUBLICATION_KEY,
        PUBLICATION_TEST.format(
            test,
            "".join(f", postTo{c}(1)" for c in chosen),
            ", ".join(["website", *chosen]),
        ),
        start={"jobAnnouncementId": 1, "twitter": twitter, "facebook": facebook},
        steps=(),
        state="completed",
        path=tuple(path),
        ordered=False,  # the two branches of the parallel gateway
        beans={JOB_SERVICE: {}},
        calls=(("postToWebsite", (1,)), *((f"postTo{c}", (1,)) for c in chosen)),
    )


EXPECTATIONS = [
    _publication(False, False, "testPublishOnlyOnCompanyWebsite"),
    _publication(True, False, "testPublishAlsoOnTwitter"),
    _publication(False, True, "testPublishAlsoOnFacebook"),
    _publication(True, True, "testPublishAlsoOnFacebookAndTwitter"),
    Expectation(
        "job-announcement-happy-path",
        "camunda-examples/camunda-testing-job-announcement.bpmn",
        "camunda-testing-job-announcement",
        "camunda-bpm-examples testing/assert JobAnnouncementProcessTest.testHappyPath: task "
        "edit, candidate group engineering, not assigned; claim fozzie; complete; task review "
        "assigned to gonzo (findRequester(1)); complete approved=true; task publish, group "
        "engineering; variables exactly {jobAnnouncementId: 1, approved: true}; claim and "
        "complete twitter=facebook=true; verify findRequester, postToWebsite, postToTwitter, "
        "postToFacebook, notifyAboutPostings (each with 1), no more; hasPassedInOrder(edit, "
        "review, publish, publication, mail); isEnded",
        start={"jobAnnouncementId": 1},
        steps=(
            open_tasks("edit"),
            candidate_groups("edit", "engineering"),
            assignee("edit", None),
            claim("edit", "fozzie"),
            assignee("edit", "fozzie"),
            complete("edit"),
            assignee("review", "gonzo"),
            complete("review", {"approved": True}),
            candidate_groups("publish", "engineering"),
            assignee("publish", None),
            variables_are(jobAnnouncementId=1, approved=True),
            claim("publish", "fozzie"),
            complete("publish", {"twitter": True, "facebook": True}),
        ),
        state="completed",
        path=(
            "Event_0nt3pjb",
            "edit",
            "review",
            "Gateway_0o79ay3",
            "publish",
            "publication",
            "mail",
            "Event_194gsd3",
        ),
        beans={JOB_SERVICE: {"findRequester": "gonzo", "findEditor": "fozzie"}},
        groups={"fozzie": ("engineering",)},
        calls=(
            ("findRequester", (1,)),
            ("postToWebsite", (1,)),
            ("postToTwitter", (1,)),
            ("postToFacebook", (1,)),
            ("notifyAboutPostings", (1,)),
        ),
    ),
    Expectation(
        "invoice-happy-path",
        "camunda-platform/invoice.v2.bpmn",
        "invoice",
        "camunda-bpm-platform examples/invoice InvoiceTestCase.testHappyPathV2: task "
        "approveInvoice with candidate groups {accounting, sales}; complete approved=true; task "
        "prepareBankTransfer; complete; one job (asyncBefore archive); executeJob; "
        "assertProcessEnded",
        start=INVOICE_START,
        steps=(
            open_tasks("approveInvoice"),
            candidate_groups("approveInvoice", "accounting", "sales"),
            complete("approveInvoice", {"approved": True}),
            open_tasks("prepareBankTransfer"),
            complete("prepareBankTransfer"),
            counts(jobs=1),
            execute_job(),
        ),
        state="completed",
        path=(
            "StartEvent_1",
            "assignApprover",
            "approveInvoice",
            "invoice_approved",
            "prepareBankTransfer",
            "ServiceTask_1",
            "invoiceProcessed",
        ),
        variables={**INVOICE_START, "approved": True},
    ),
    Expectation(
        "invoice-not-approved",
        "camunda-platform/invoice.v2.bpmn",
        "invoice",
        "InvoiceTestCase.testNonSuccessfulPath: complete approveInvoice approved=false; task "
        "assignReviewer (called ReviewInvoice); complete reviewer=peter; task reviewInvoice; "
        "complete clarified=false; both instances ended",
        start=INVOICE_START,
        steps=(
            open_tasks("approveInvoice"),
            complete("approveInvoice", {"approved": False}),
            open_tasks("assignReviewer"),
            complete("assignReviewer", {"reviewer": "peter"}),
            open_tasks("reviewInvoice"),
            complete("reviewInvoice", {"clarified": False}),
        ),
        state="completed",
        path=(
            "StartEvent_1",
            "assignApprover",
            "approveInvoice",
            "invoice_approved",
            "reviewInvoice",
            "reviewSuccessful_gw",
            "invoiceNotProcessed",
        ),
        # camunda:out of the call activity copies `clarified` back.
        variables={"approved": False, "clarified": False},
    ),
    Expectation(
        "inclusive-join-after-subprocesses-both",
        "camunda-platform/InclusiveGatewayTest.testJoinAfterSubprocesses.bpmn",
        "InclusiveGateway",
        "InclusiveGatewayTest.testJoinAfterSubprocesses, a=1 b=1: 2 tasks; complete one: 1 "
        "task; complete the other; task of assignee c; complete; process ended",
        start={"a": 1, "b": 1},
        steps=(
            open_tasks("usertask1", "usertask2"),
            complete("usertask1"),
            open_tasks("usertask2"),
            complete("usertask2"),
            open_tasks("usertask3"),
            complete("usertask3"),
        ),
        state="completed",
        path=(
            "startevent1",
            "inclusivegateway1",
            "startevent2",
            "startevent3",
            "usertask1",
            "endevent1",
            "subprocess1",
            "usertask2",
            "endevent2",
            "subprocess2",
            "inclusivegateway2",
            "usertask3",
            "endevent3",
        ),
        ordered=False,
        variables={"a": 1, "b": 1},
    ),
    Expectation(
        "inclusive-join-after-subprocesses-one",
        "camunda-platform/InclusiveGatewayTest.testJoinAfterSubprocesses.bpmn",
        "InclusiveGateway",
        "InclusiveGatewayTest.testJoinAfterSubprocesses, a=1 b=2: 1 task, assignee a; "
        "complete; task of assignee c; complete; process ended",
        start={"a": 1, "b": 2},
        steps=(
            open_tasks("usertask1"),
            complete("usertask1"),
            open_tasks("usertask3"),
            complete("usertask3"),
        ),
        state="completed",
        path=(
            "startevent1",
            "inclusivegateway1",
            "startevent2",
            "usertask1",
            "endevent1",
            "subprocess1",
            "inclusivegateway2",
            "usertask3",
            "endevent3",
        ),
        variables={"a": 1, "b": 2},
    ),
    Expectation(
        "link-events-multiple-sources",
        "camunda-platform/LinkEventTest.testEventLinkMultipleSources.bpmn",
        "linkEventValid",
        "LinkEventTest.testEventLinkMultipleSources: active activities [WaitAfterLink, "
        "WaitAfterLink]; history (by activity id) ManualTask_1, ParallelGateway_1, "
        "StartEvent_1, WaitAfterLink, WaitAfterLink (the receive tasks still active)",
        steps=(),
        state="running",
        path=("StartEvent_1", "ManualTask_1", "ParallelGateway_1"),
    ),
    Expectation(
        "event-based-gateway-message",
        "camunda-platform/EventBasedGatewayTest.testCatchSignalAndMessageAndTimer.bpmn",
        "catchSignal",
        "EventBasedGatewayTest.testCatchSignalAndMessageAndTimer: 1 message and 1 signal "
        "subscription, 1 job; message newInvoice received; no subscription, no job; task "
        "afterMessage; complete",
        steps=(
            counts(instances=1, jobs=1),
            correlate("newInvoice"),
            counts(instances=1, jobs=0),
            open_tasks("task3"),
            complete("task3"),
        ),
        state="completed",
        path=("start", "gw1", "messageEvent", "task3", "end"),
    ),
    Expectation(
        "non-interrupting-timer-on-subprocess",
        "camunda-platform/BoundaryTimerNonInterruptingEventTest.testTimerOnEmbeddedSubprocess.bpmn",
        "nonInterruptingTimerOnEmbeddedSubprocess",
        "BoundaryTimerNonInterruptingEventTest.testTimerOnEmbeddedSubprocess: 1 task; "
        "executeJob; 2 tasks; complete both; assertProcessEnded",
        steps=(
            open_tasks("UserTask_1"),
            execute_job(),
            open_tasks("UserTask_1", "UserTask_2"),
            complete("UserTask_1"),
            complete("UserTask_2"),
        ),
        state="completed",
        path=(
            "StartEvent_1",
            "StartEvent_2",
            "BoundaryEvent_1",
            "UserTask_1",
            "EndEvent_1",
            "SubProcess_2",
            "EndEvent_5",
            "UserTask_2",
            "EndEvent_2",
        ),
        ordered=False,
    ),
    Expectation(
        "intermediate-timer-date-expression",
        "camunda-platform/IntermediateTimerEventTest.testExpression.bpmn",
        "intermediateTimerEventExample",
        "IntermediateTimerEventTest.testExpression: dueDate = now as 'yyyy-MM-dd'T'HH:mm:ss'; "
        "1 job; execute it; 0 jobs; assertProcessEnded",
        start={"dueDate": START.strftime("%Y-%m-%dT%H:%M:%S")},
        steps=(counts(jobs=1), execute_job(), counts(jobs=0)),
        state="completed",
        path=("theStart", "timer", "theEnd"),
    ),
    Expectation(
        "nested-multi-instance-tasks",
        "camunda-platform/MultiInstanceTest.testNestedMultiInstanceTasks.bpmn",
        "miNestedMultiInstanceTasks",
        "MultiInstanceTest.testNestedMultiInstanceTasks: 2 subProcesses x 2 assignees = 4 "
        "tasks; complete all; no instance left, assertProcessEnded",
        start={"subProcesses": ["process A", "process B"], "assignees": ["kermit", "gonzo"]},
        steps=(open_tasks(*["miTasks"] * 4), complete("miTasks", count=4)),
        state="completed",
        path=(
            "theStart",
            *["startevent1"] * 2,
            *["miTasks"] * 4,  # the task instances
            *["miTasks"] * 2,  # the inner multi-instance body, once per sub-process
            *["endevent1"] * 2,
            *["subprocess1"] * 3,  # the sub-process instances and their body
            "theEnd",
        ),
        ordered=False,
        variables={"subProcesses": ["process A", "process B"], "assignees": ["kermit", "gonzo"]},
    ),
    Expectation(
        "parallel-multi-instance-completion-condition",
        "camunda-platform/MultiInstanceTest.testParallelUserTasksCompletionCondition.bpmn",
        "miParallelUserTasksCompletionCondition",
        "MultiInstanceTest.testParallelUserTasksCompletionCondition: 5 tasks; completing 3 "
        "(count 5, 4, 3 before each) triggers the completion condition; assertProcessEnded",
        steps=(open_tasks(*["miTasks"] * 5), complete("miTasks", count=3), open_tasks()),
        state="completed",
        # The two tasks the condition cancels are not completed activities.
        path=("theStart", "miTasks", "miTasks", "miTasks", "miTasks", "theEnd"),
    ),
    Expectation(
        "call-activity-output-on-error",
        "camunda-platform/CallActivity.testSubProcessDataOutputOnError.bpmn",
        "Process_1",
        "CallActivityTest.testSubProcessDataOutputOnError: task SubTask (called instance); "
        "subVariable set there; complete; task 'Task after error'; the caller's subVariable "
        "equals 'Hello from Subprocess' (camunda:out variables=all on error)",
        steps=(
            open_tasks("UserTask_1"),
            complete("UserTask_1", {"subVariable": "Hello from Subprocess"}),
            open_tasks("UserTask_2"),
        ),
        state="running",
        # The error cancels the call activity: only the boundary event finished after it.
        path=("StartEvent_1", "BoundaryEvent_1"),
        variables={"subVariable": "Hello from Subprocess"},
    ),
    Expectation(
        "error-from-multi-instance-subprocess",
        "camunda-platform/BoundaryErrorEventTest.testCatchErrorThrownByMultiInstanceSubProcessSetsErrorCodeVariable.bpmn",
        "Process_1",
        "BoundaryErrorEventTest.testCatchErrorThrownByMultiInstanceSubProcessSetsErrorVariables: "
        "the variable of camunda:errorCodeVariable 'errorVariable' holds the error code 'error'",
        steps=(open_tasks("UserTask_1", "UserTask_3"),),
        state="running",
        path=None,  # how many inner instances start before the error is not asserted
        variables={"errorVariable": "error"},
    ),
    Expectation(
        "error-event-subprocess-no-loop",
        "camunda-platform/ErrorEventSubProcessTest.testThrowErrorInLoop.bpmn",
        "looping-error",
        "ErrorEventSubProcessTest.testShouldNotThrowErrorInLoop: task WaitState (the error "
        "event sub-process caught E1 from ThrowErrorInLoopDelegate); complete; task "
        "ErrorHandlingUserTask (E1 from the event sub-process goes to the boundary event)",
        services={
            "org.camunda.bpm.engine.test.bpmn.event.error.ThrowErrorInLoopDelegate": _throw_e1
        },
        steps=(
            open_tasks("UserTask_10fuvz1"),
            complete("UserTask_10fuvz1"),
            open_tasks("UserTask_16lf6u8"),
        ),
        state="running",
        path=None,
        xfail_raises=flowdesk.BpmnValidationError,
    ),
    Expectation(
        "message-event-subprocess-terminate",
        "camunda-platform/MessageEventSubprocessTest.testNonInterruptingWithTerminatingEndEvent.bpmn",
        "process",
        "MessageEventSubprocessTest.testNonInterruptingWithTerminatingEndEvent: task 'Inner "
        "User Task'; correlate 'message'; task 'Event User Task'; complete; the activity tree "
        "is SubProcess_1 > UserTask_1 (the terminate end ends the event sub-process only)",
        steps=(
            open_tasks("UserTask_1"),
            correlate("message"),
            open_tasks("UserTask_1", "UserTask_2"),
            complete("UserTask_2"),
            open_tasks("UserTask_1"),
        ),
        state="running",
        path=(
            "StartEvent_1",
            "StartEvent_2",
            "StartEvent_3",
            "UserTask_2",
            "EndEvent_3",
            "SubProcess_2",
        ),
        ordered=False,
        xfail_raises=flowdesk.BpmnValidationError,
    ),
    Expectation(
        "signal-from-event-subprocess-in-subprocess",
        "camunda-platform/SignalEventTest.testThrownSignalInEventSubprocessInSubprocess.bpmn",
        "embeddedEventSubprocess",
        "SignalEventTest.testThrownSignalInEventSubprocessInSubprocess: task 'task in "
        "subprocess'; one job; executeJob; task 'after catch'; no job",
        steps=(
            open_tasks("Task_1m1z433"),
            counts(jobs=1),
            execute_job(),
            open_tasks("Task_1f50q9l"),
            counts(jobs=0),
        ),
        state="running",
        path=None,
        xfail_raises=flowdesk.BpmnValidationError,
    ),
    Expectation(
        "start-timer-fixed-date",
        "camunda-platform/StartTimerEventTest.testFixedDateStartTimerEvent.bpmn",
        "startTimerEventExample",
        "StartTimerEventTest.testFixedDateStartTimerEvent: 1 job; clock 15/11/2036 11:12:30; "
        "executeAllJobs; 1 instance; 0 jobs",
        start=None,
        steps=(
            counts(instances=0, jobs=1),
            set_clock(datetime(2036, 11, 15, 11, 12, 30, tzinfo=UTC)),
            counts(instances=1, jobs=0),
        ),
        state="running",
        path=("theStart",),  # waits in the receive task
    ),
    Expectation(
        "start-timer-cycle-with-limit",
        "camunda-platform/StartTimerEventTest.testCycleWithLimitStartTimerEvent.bpmn",
        "startTimerEventExampleCycle",
        "StartTimerEventTest.testCycleWithLimitStartTimerEvent (R2/PT5M): 1 job, 0 instances; "
        "+5 min, executeAllJobs: 1 instance, 1 job; +5 min: 2 instances, 0 jobs",
        start=None,
        steps=(
            counts(instances=0, jobs=1),
            move_clock(minutes=5),
            counts(instances=1, jobs=1),
            move_clock(minutes=5),
            counts(instances=2, jobs=0),
        ),
        state="running",
        path=("theStart",),
    ),
    Expectation(
        "compensation-event-sub-process",
        "camunda-platform/CompensateEventTest.testCompensationEventSubProcess.bpmn",
        "bookingProcess",
        "CompensateEventTest.testCompensationEventSubProcessWithScope: complete Book Flight, "
        "Book Hotel; complete Validate Booking with valid=false; 1 task, Cancel Flight; "
        "complete; 1 task, Cancel Hotel; complete; complete Update Customer Record; "
        "assertProcessEnded",
        steps=(
            complete("bookFlight"),
            complete("bookHotel"),
            complete("validateBooking", {"valid": False}),
            open_tasks("cancelFlight"),
            complete("cancelFlight"),
            open_tasks("cancelHotel"),
            complete("cancelHotel"),
            open_tasks("updateCustomerRecord"),
            complete("updateCustomerRecord"),
        ),
        state="completed",
        path=None,  # the Java test asserts the tasks, not the history of the event scope
    ),
]


# -- running them --------------------------------------------------------------------------


def _skipped_ids(path: str) -> set[str]:
    """Ids of the file's link events: Camunda's history has no activity for them."""
    tree = etree.parse(str(CORPUS.root / path), etree.XMLParser(resolve_entities=False))
    return {
        event.get("id", "")
        for tag in ("intermediateThrowEvent", "intermediateCatchEvent")
        for event in tree.iter(f"{_BPMN}{tag}")
        if event.find(f"{_BPMN}linkEventDefinition") is not None
    }


def _known_ids(path: str) -> set[str]:
    tree = etree.parse(str(CORPUS.root / path), etree.XMLParser(resolve_entities=False))
    return {element.get("id", "") for element in tree.iter() if element.get("id")}


def path_of(engine: flowdesk.Engine, instance_id: str, file: str) -> list[str]:
    """The instance's finished activities in the order they finished, as in Camunda's history.

    User tasks finish with `task_completed`, everything else with `activity_completed`;
    elements SpiffWorkflow adds and the file does not name are left out.
    """
    known, skipped = _known_ids(file), _skipped_ids(file)
    return [
        e.element_id
        for e in engine.history(instance_id)
        if e.type in ("activity_completed", "task_completed")
        and e.element_id in known
        and e.element_id not in skipped
    ]


def _params() -> list[Any]:
    return [
        pytest.param(
            e,
            id=e.name,
            marks=[pytest.mark.xfail(strict=True, reason=e.xfail, raises=e.xfail_raises)]
            if e.xfail
            else [],
        )
        for e in EXPECTATIONS
    ]


@pytest.mark.parametrize("expected", _params())
def test_corpus_process__takes_the_path_and_sets_the_variables_camunda_s_test_asserts(
    expected: Expectation, db_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    engine = flowdesk.Engine(
        db_url, clock=clock, load_entry_points=False, groups=dict(expected.groups)
    )
    try:
        deployment = CORPUS.deployment(expected.file)
        beans = {name: RecordingBean(name, r) for name, r in expected.beans.items()}
        for name in sorted({n for f in deployment for n in f.services}):
            handler = beans.get(name) or expected.services.get(name) or NullService()
            engine.handlers.register_service(name, handler)
        for name in sorted({n for f in deployment for n in f.beans}):
            engine.handlers.register_bean(name, beans.get(name) or NullService())
        with warnings.catch_warnings():
            # Spiff's and the missing-handler warnings are not what this test is about.
            warnings.simplefilter("ignore")
            engine.deploy(link_deployment(CORPUS.root, deployment, tmp_path / "deployment"))
            drive = Drive(engine, clock, expected.key)
            if expected.start is not None:
                drive.root_id = engine.start(expected.key, dict(expected.start)).id
            for step in expected.steps:
                step(drive)
            instance = drive.root()

        assert (instance.state, instance.incident) == (expected.state, None)
        if expected.path is not None:
            path = path_of(engine, instance.id, expected.file)
            if expected.ordered:
                assert path == list(expected.path)
            else:
                assert sorted(path) == sorted(expected.path)
        assert {k: instance.variables.get(k) for k in expected.variables} == dict(
            expected.variables
        )
        if expected.calls is not None:
            made = [(method, args) for bean in beans.values() for method, args in bean.calls]
            assert sorted(made, key=repr) == sorted(expected.calls, key=repr)
    finally:
        engine.close()


def test_fidelity_sample__covers_ten_corpus_processes_with_known_expectations() -> None:
    processes = {(e.file, e.key) for e in EXPECTATIONS}

    assert len(processes) >= 10
    assert all(e.file in CORPUS.files and e.source for e in EXPECTATIONS)
