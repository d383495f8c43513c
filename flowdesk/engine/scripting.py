"""The script engine every flowdesk workflow runs with: sandboxed, and able to call services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from flowdesk import handlers
from flowdesk.engine import sandbox, timers
from flowdesk.engine.listeners import field_values
from flowdesk.engine.specs import END_PATH, ErrorDefinition
from flowdesk.engine.spiff_tasks import fingerprint_value
from flowdesk.errors import BpmnError, ExpressionError, HandlerError

# The Camunda attributes that name a service task's implementation, most specific first.
IMPLEMENTATION_ATTRIBUTES = ("class", "delegateExpression", "expression", "topic")


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who the running workflow is, for handlers."""

    instance_id: str
    process_key: str
    business_key: str | None


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

    def run_service(self, task: Any) -> bool | None:
        """Run the handler of a service task; its returned variables go into the task data.

        A `BpmnError` from the handler is thrown into the model as a BPMN error event; the
        task then stays STARTED (None) when something caught it, for the catcher cancels it.
        Any other failure propagates, and the engine turns it into an incident.
        """
        spec = task.task_spec
        implementation = implementation_of(spec.extensions)
        if implementation is None:
            raise HandlerError(
                spec.bpmn_id,
                "service task has no camunda:class, delegateExpression, expression or topic",
            )
        camunda = spec.extensions.get("camunda", {})
        if camunda.get("expression") and self.registry.service_exact(implementation) is None:
            # Camunda evaluates the expression, calling the beans it names.
            result = self._evaluate_bean_expression(task, camunda["expression"])
            if camunda.get("resultVariable"):
                task.data[camunda["resultVariable"]] = result
            return True
        handler = self.registry.service(implementation)
        if handler is None:
            raise HandlerError(
                implementation, f"no handler registered for service task {spec.bpmn_id!r}"
            )
        try:
            fields = field_values(spec.extensions.get("fields", []), task.data)
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
            properties=dict(spec.extensions.get("properties", {})),
            now=timers.now(),
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
        """Run a listener's `camunda:script` with `execution` (and `task`) in its namespace.

        Python names the script assigns become variables, as in a script task; so do
        `execution.setVariable` calls. A `juel` script is one expression, evaluated. This is
        the one place listener scripts choose their language: a language the deploy check
        (`SCRIPT_FORMATS`) accepts must be run here too.
        """
        if script_format == "juel":
            self.environment.evaluate(script, variables, context)
            return
        if script_format not in ("", "python"):
            raise HandlerError("script", f"listener scripts in {script_format!r} cannot run yet")
        namespace = dict(variables)
        before = {k: fingerprint_value(v) for k, v in namespace.items()}
        self.environment.execute(script, namespace, context)
        for name, value in namespace.items():
            if before.get(name) != fingerprint_value(value) and name not in context:
                call.set_variable(name, value)

    def _evaluate_bean_expression(self, task: Any, expression: str) -> Any:
        """`camunda:expression` calling registered services by name, e.g. `${mailer(to)}`."""
        beans = {
            name: handler for name, handler in self.registry.services.items() if name.isidentifier()
        }
        try:
            return self.environment.evaluate(expression, task.data, beans)
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
        top = task.workflow.top_workflow
        top.catch(event)
        if event in top.bpmn_events:
            task.internal_data[END_PATH] = True
            return False
        return True
