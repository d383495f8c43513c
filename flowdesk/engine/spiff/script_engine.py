"""The script engine every flowdesk workflow runs with: sandboxed, and able to call services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

from flowdesk import handlers
from flowdesk.engine.languages import javascript, sandbox, timer_texts
from flowdesk.engine.languages.expressions import ExpressionExecution
from flowdesk.engine.scripts import feel_scripts, script_languages
from flowdesk.engine.spiff import event_scopes, external_work
from flowdesk.engine.spiff.listeners import field_values
from flowdesk.engine.spiff.specs import END_PATH, ErrorDefinition
from flowdesk.engine.spiff.task_data import fingerprint_value
from flowdesk.errors import BpmnError, ExpressionError, HandlerError

# The Camunda attributes that name a service task's implementation, most specific first.
IMPLEMENTATION_ATTRIBUTES = ("class", "delegateExpression", "expression", "topic")


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who the running workflow is, for handlers."""

    instance_id: str
    process_key: str
    business_key: str | None
    process_definition_id: str | None = None


def implementation_of(extensions: Mapping[str, Any]) -> str | None:
    """The implementation text of a service task, e.g. a class name, `${bean}` or a topic."""
    camunda = extensions.get("camunda", {})
    for attribute in IMPLEMENTATION_ATTRIBUTES:
        if camunda.get(attribute):
            return str(camunda[attribute])
    return None


class FlowdeskScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # Spiff is untyped
    """Evaluates in the sandbox, and runs service tasks through the handler registry."""

    def __init__(self, registry: handlers.HandlerRegistry, scope: CallScope) -> None:
        # JUEL's execution.processBusinessKey / processInstanceId translate to these names.
        super().__init__(
            environment=sandbox.SandboxEnvironment(
                {"business_key": scope.business_key, "instance_id": scope.instance_id}
            )
        )
        self.registry = registry
        self.scope = scope
        # Documents handlers attached, with their element id; the save writes them.
        self.documents: list[tuple[str, handlers.DocumentDraft]] = []

    def run_service(self, task: Any, extensions: Mapping[str, Any] | None = None) -> bool | None:
        """Run the handler of a service task; its returned variables go into the task data.

        An external task (`camunda:type="external"`) runs nothing: it waits for a worker
        (see `external_work`) and stays STARTED (None).

        A `BpmnError` from the handler is thrown into the model as a BPMN error event; the
        task then stays STARTED (None) when something caught it, for the catcher cancels it.
        Any other failure propagates, and the engine turns it into an incident.
        """
        spec = task.task_spec
        # A message throw event run as a service task brings its definition's extensions.
        extensions = spec.extensions if extensions is None else extensions
        if external_work.is_external(extensions):
            # Camunda 7 never runs an external task in-process: it waits for a worker.
            external_work.request(task, extensions, self.registry.beans)
            return None
        implementation = implementation_of(extensions)
        if implementation is None:
            raise HandlerError(
                spec.bpmn_id,
                "service task has no camunda:class, delegateExpression, expression or topic",
            )
        camunda = extensions.get("camunda", {})
        if camunda.get("expression") and self.registry.service_exact(implementation) is None:
            # Camunda evaluates the expression, calling the beans it names.
            try:
                result = self._evaluate_bean_expression(task, camunda["expression"])
            except BpmnError as err:  # a bean threw a BPMN error, as a handler may
                return None if self.throw_bpmn_error(task, err) else True
            if camunda.get("resultVariable"):
                task.data[camunda["resultVariable"]] = result
            return True
        handler = self.registry.service(implementation)
        if handler is None:
            raise HandlerError(
                implementation, f"no handler registered for service task {spec.bpmn_id!r}"
            )
        try:
            fields = field_values(extensions.get("fields", []), task.data)
        except ExpressionError as err:
            raise HandlerError(implementation, f"camunda:field of {spec.bpmn_id!r}: {err}") from err
        call = handlers.ServiceCall(
            fields=fields,
            instance_id=self.scope.instance_id,
            process_key=self.scope.process_key,
            business_key=self.scope.business_key,
            element_id=spec.bpmn_id,
            implementation=implementation,
            variables=dict(task.data),
            properties=dict(extensions.get("properties", {})),
            now=timer_texts.now(),
        )
        try:
            result = handler(call)
        except BpmnError as err:
            # Caught: the catching event cancels this task, so it must not complete first.
            return None if self.throw_bpmn_error(task, err) else True
        self.documents.extend((spec.bpmn_id, draft) for draft in call.documents)
        if isinstance(result, Mapping):
            task.data.update(result)
        elif result is not None and camunda.get("resultVariable"):
            task.data[camunda["resultVariable"]] = result
        return True

    def run_listener_script(
        self,
        script: str,
        script_format: str,
        variables: Mapping[str, Any],
        context: Mapping[str, Any],
        call: handlers.ListenerCall,
    ) -> None:
        """Run a listener's `camunda:script` in its language (see `script_languages`).

        JavaScript sees `execution` (or, in a task listener, `task`) as Camunda's scripts do;
        what it sets through them goes to the instance and the task. Python has `execution`
        and `task` in its namespace, and the names it assigns become variables, as in a script
        task. A `juel` script is one expression, evaluated.

        Raises:
            ExpressionError: The script fails, or its language is not one flowdesk runs.
        """
        language = script_languages.language_of(script_format)
        if language == script_languages.JAVASCRIPT:
            self._run_javascript_listener(script, variables, call)
            return
        if language == script_languages.JUEL:
            self.environment.evaluate_with(
                script, variables, beans=self.registry.beans, objects=context
            )
            return
        if language != script_languages.PYTHON:
            raise ExpressionError(script, script_languages.unsupported_reason(script_format))
        namespace = dict(variables)
        before = {k: fingerprint_value(v) for k, v in namespace.items()}
        self.environment.execute(script, namespace, context)
        for name, value in namespace.items():
            if before.get(name) != fingerprint_value(value) and name not in context:
                call.set_variable(name, value)

    def _run_javascript_listener(
        self, script: str, variables: Mapping[str, Any], call: handlers.ListenerCall
    ) -> None:
        listener_task = call.task
        delegate = None
        if listener_task is not None:
            delegate = javascript.DelegateTask(
                id=listener_task.id,
                name=listener_task.name,
                assignee=listener_task.assignee,
                priority=listener_task.priority,
                task_definition_key=listener_task.element_id,
                event_name=call.event,
                due_date=listener_task.due.isoformat() if listener_task.due else None,
                candidate_users=tuple(listener_task.candidate_users),
                candidate_groups=tuple(listener_task.candidate_groups),
            )
        facts = javascript.Execution(
            process_instance_id=self.scope.instance_id,
            business_key=self.scope.business_key,
            activity_id=call.element_id,
            process_definition_id=self.scope.process_definition_id,
            event_name=call.event,
        )
        outcome = javascript.run(
            script, variables, execution=facts, element_id=call.element_id, task=delegate
        )
        for name, value in {**outcome.variables, **outcome.local_variables}.items():
            call.set_variable(name, value)
        if listener_task is not None:
            changes = outcome.task_changes
            if "assignee" in changes:
                listener_task.set_assignee(changes["assignee"])
            if "candidate_users" in changes:
                listener_task.candidate_users = tuple(changes["candidate_users"])
            if "candidate_groups" in changes:
                listener_task.candidate_groups = tuple(changes["candidate_groups"])
            if "priority" in changes:
                listener_task.priority = int(changes["priority"])
            if "name" in changes:
                listener_task.name = str(changes["name"])
            if changes.get("due_date"):
                listener_task.due = timer_texts.parse_due(str(changes["due_date"]))

    def evaluate(
        self,
        task: Any,
        expression: str,
        external_context: Mapping[str, Any] | None = None,
        *,
        objects: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate for a task, with the registered beans and the task's `execution`.

        This is the call for any expression evaluated for a running task, e.g. a listener's
        `${audit.log(execution, task)}`: `script_engine.evaluate(task, text, objects={"task":
        delegate_task})`. Errors are wrapped as Spiff's own `PythonScriptEngine.evaluate`
        wraps them.

        Args:
            task: The Spiff task; its data are the variables, `execution.setVariable` writes it.
            expression: A JUEL or plain-Python expression, or a sequence-flow condition the
                parser marked as JUEL, JavaScript or FEEL (those must give a boolean).
            external_context: More names beneath the variables (Spiff passes data objects).
            objects: More context objects above the variables, e.g. Camunda's `task`; an
                `execution` here replaces the task's.
        """
        if feel_scripts.is_marked(expression):
            # FEEL (language="feel"): must give true or false.
            return feel_scripts.evaluate_condition(expression, task.data)
        if javascript.is_marked(expression):
            try:
                return script_languages.evaluate_condition(task, javascript.unmark(expression))
            except Exception as err:
                # As SpiffWorkflow 3.2's PythonScriptEngine.evaluate wraps a failure.
                raise WorkflowTaskException(
                    "Error evaluating expression", task=task, exception=err
                ) from err
        beans = {**self.registry.beans, **(external_context or {})}
        context_objects = {"execution": self.execution(task), **(objects or {})}

        def value(text: str) -> Any:
            return self.environment.evaluate_with(
                text, task.data, beans=beans, objects=context_objects
            )

        shown = script_languages.unmarked_condition(expression)
        try:
            if shown != expression:
                return script_languages.juel_condition_value(shown, value)
            return value(expression)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{shown}'")
            raise
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{shown}'", task=task, exception=err
            ) from err

    def execute(
        self, task: Any, script: str, external_context: Mapping[str, Any] | None = None
    ) -> bool:
        """Run a script task's script in its language, as Camunda's script engines do.

        FEEL and JavaScript (marked by the parser) run in flowdesk's FEEL and in QuickJS, and a
        `juel` script is one EL value expression (text around `${...}` builds a string); their
        value goes to `camunda:resultVariable` (a null JavaScript value is not stored, as
        Camunda's `ScriptTaskActivityBehavior` skips it). Python scripts run in the sandbox as
        statements.
        """
        if feel_scripts.is_marked(script):
            # FEEL (scriptFormat="feel"): the value goes to camunda:resultVariable.
            feel_scripts.run_script(script, task.data)
            return True
        if javascript.is_marked(script):
            return self._execute_javascript(task, script)
        spec = task.task_spec
        extensions = getattr(spec, "extensions", None) or {}
        if extensions.get("script_format") != "juel" or script != getattr(spec, "script", None):
            return bool(super().execute(task, script, external_context))
        beans = {**self.registry.beans, **(external_context or {})}
        try:
            value = sandbox.evaluate_value(
                script,
                task.data,
                element_id=spec.bpmn_id,
                beans=beans,
                objects={"execution": self.execution(task)},
            )
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err
        result_variable = extensions.get("camunda", {}).get("resultVariable")
        if result_variable:
            task.data[result_variable] = value
        return True

    def _execute_javascript(self, task: Any, script: str) -> bool:
        try:
            value = script_languages.run_script(
                task, javascript.unmark(script), script_languages.JAVASCRIPT
            )
        except Exception as err:
            # Spiff's create_task_exec_exception would call it a Python script error.
            raise WorkflowTaskException("Error running script", task=task, exception=err) from err
        result_variable = task.task_spec.extensions.get("camunda", {}).get("resultVariable")
        if result_variable and value is not None:
            task.data[result_variable] = value
        return True

    def execution(self, task: Any, *, writable: bool = True) -> ExpressionExecution:
        """Camunda's `execution` for a Spiff task: `setVariable` writes the task's data.

        Args:
            task: The Spiff task being run.
            writable: False gives a view whose `setVariable` raises.
        """
        spec = task.task_spec
        return ExpressionExecution(
            task.data,
            process_instance_id=self.scope.instance_id,
            business_key=self.scope.business_key,
            process_definition_id=self.scope.process_definition_id or self.scope.process_key,
            activity_id=getattr(spec, "bpmn_id", None),
            activity_name=getattr(spec, "bpmn_name", None),
            activity_instance_id=str(task.id),
            writable=writable,
        )

    def _evaluate_bean_expression(self, task: Any, expression: str) -> Any:
        """`camunda:expression` calling beans, e.g. `${mailer.send(to)}`.

        Registered beans, and (as before beans existed) every service handler registered
        under an identifier, are reachable.
        """
        beans = {
            name: handler for name, handler in self.registry.services.items() if name.isidentifier()
        }
        beans.update(self.registry.beans)
        try:
            return self.environment.evaluate_with(
                expression, task.data, beans=beans, objects={"execution": self.execution(task)}
            )
        except ExpressionError as err:
            raise HandlerError(task.task_spec.bpmn_id, str(err)) from err

    @staticmethod
    def throw_bpmn_error(task: Any, err: BpmnError) -> bool:
        """Throw the error into the model; whether a boundary or event sub-process caught it.

        Uncaught, Camunda 7 ends the current path as a none end event would (it logs and goes on
        with the rest of the instance); the task marks itself so that it completes without
        taking its outgoing flow.
        """
        payload = {"code": err.code, "message": str(err), "variables": dict(err.variables)}
        event = BpmnEvent(ErrorDefinition(err.code, err.code), payload, target=task.workflow)
        event_scopes.throw_from(task, event)  # the service task's boundaries may catch it
        top = task.workflow.top_workflow
        if event in top.bpmn_events:
            task.internal_data[END_PATH] = True
            return False
        return True
