"""`execution` in JUEL: Camunda's DelegateExecution as an expression sees it.

The engine passes an `ExpressionExecution` over the running task's variables wherever it
evaluates an expression for a task (conditions, service expressions, listeners); its
`setVariable` writes the process variable. Where no execution is passed (user-task
attributes, input parameters), `execution` is a read-only view of the expression's variables.

Java getters are also EL properties: `execution.processInstanceId` calls
`getProcessInstanceId()` (see `el_members.juel_prop`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from flowdesk.engine.languages.expressions.el_operators import ELError


class ExpressionExecution:
    """Camunda's `execution` object: variables, ids and the current activity.

    Args:
        variables: The variables `getVariable` reads and `setVariable` writes, in place.
        process_instance_id: The instance's id.
        business_key: The instance's business key, or None.
        process_definition_id: What `getProcessDefinitionId()` returns. flowdesk has no
            Camunda definition ids; the engine passes the process key.
        activity_id: The BPMN id of the element being executed, or None.
        activity_name: Its name, or None.
        activity_instance_id: The id of this run of the element, or None.
        writable: Whether `setVariable` may change `variables`; False raises instead.
    """

    __slots__ = (
        "_activity_id",
        "_activity_instance_id",
        "_activity_name",
        "_business_key",
        "_definition_id",
        "_instance_id",
        "_variables",
        "_writable",
    )

    def __init__(
        self,
        variables: MutableMapping[str, Any],
        *,
        process_instance_id: str | None,
        business_key: str | None,
        process_definition_id: str | None = None,
        activity_id: str | None = None,
        activity_name: str | None = None,
        activity_instance_id: str | None = None,
        writable: bool = True,
    ) -> None:
        self._variables = variables
        self._instance_id = process_instance_id
        self._business_key = business_key
        self._definition_id = process_definition_id
        self._activity_id = activity_id
        self._activity_name = activity_name
        self._activity_instance_id = activity_instance_id
        self._writable = writable

    # Camunda's method names, as models call them.

    def getVariable(self, name: str) -> Any:
        """The variable's value, or None when it is not set."""
        return self._variables.get(name)

    def getVariableLocal(self, name: str) -> Any:
        """As `getVariable`: flowdesk keeps one variable scope per instance."""
        return self._variables.get(name)

    def hasVariable(self, name: str) -> bool:
        """Whether the variable is set (possibly to None)."""
        return name in self._variables

    def hasVariableLocal(self, name: str) -> bool:
        """As `hasVariable`."""
        return name in self._variables

    def getVariables(self) -> dict[str, Any]:
        """A copy of every variable."""
        return dict(self._variables)

    def getVariableNames(self) -> list[str]:
        """The names of the variables."""
        return list(self._variables)

    def setVariable(self, name: str, value: Any) -> None:
        """Set a process variable.

        Raises:
            ELError: This execution is a read-only view (no running task), or `name` is not
                a string.
        """
        if not self._writable:
            raise ELError("execution.setVariable is not available here (no running task)")
        if not isinstance(name, str) or not name:
            raise ELError(f"variable name must be a non-empty string, not {name!r}")
        self._variables[name] = value

    def setVariableLocal(self, name: str, value: Any) -> None:
        """As `setVariable`."""
        self.setVariable(name, value)

    def removeVariable(self, name: str) -> None:
        """Remove a process variable if it is set."""
        if not self._writable:
            raise ELError("execution.removeVariable is not available here (no running task)")
        self._variables.pop(name, None)

    def getProcessInstanceId(self) -> str | None:
        """The process instance's id."""
        return self._instance_id

    def getBusinessKey(self) -> str | None:
        """The process instance's business key."""
        return self._business_key

    def getProcessBusinessKey(self) -> str | None:
        """The process instance's business key."""
        return self._business_key

    def getProcessDefinitionId(self) -> str | None:
        """The process key (flowdesk has no Camunda definition ids)."""
        return self._definition_id

    def getCurrentActivityId(self) -> str | None:
        """The BPMN id of the element being executed."""
        return self._activity_id

    def getCurrentActivityName(self) -> str | None:
        """The name of the element being executed."""
        return self._activity_name

    def getActivityInstanceId(self) -> str | None:
        """The id of this run of the element."""
        return self._activity_instance_id

    def getId(self) -> str | None:
        """The execution's id: the instance id, as on a Camunda path without concurrency."""
        return self._instance_id

    # The same as properties, for Python beans that take `execution` (JUEL reads the getters).

    @property
    def id(self) -> str | None:
        return self.getId()

    @property
    def processInstanceId(self) -> str | None:
        return self._instance_id

    @property
    def businessKey(self) -> str | None:
        return self._business_key

    @property
    def processBusinessKey(self) -> str | None:
        return self._business_key

    @property
    def processDefinitionId(self) -> str | None:
        return self._definition_id

    @property
    def currentActivityId(self) -> str | None:
        return self._activity_id

    @property
    def currentActivityName(self) -> str | None:
        return self._activity_name

    @property
    def activityInstanceId(self) -> str | None:
        return self._activity_instance_id

    def __repr__(self) -> str:
        return f"execution({self._instance_id}, {self._activity_id})"


def juel_execution(scope: Mapping[str, Any]) -> Any:
    """The JUEL identifier `execution`: the object the caller passed, else a read-only view.

    A JSON value under the name `execution` is a process variable, not Camunda's execution.
    """
    given = scope.get("execution")
    if given is not None and not isinstance(given, (dict, list, str, int, float, bool)):
        return given
    variables = {
        name: value
        for name, value in scope.items()
        if not name.startswith("_") and not name.startswith("juel_") and not callable(value)
    }
    instance_id, business_key = scope.get("instance_id"), scope.get("business_key")
    return ExpressionExecution(
        variables,
        process_instance_id=instance_id if isinstance(instance_id, str) else None,
        business_key=business_key if isinstance(business_key, str) else None,
        writable=False,
    )
