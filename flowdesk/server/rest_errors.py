"""Errors as Camunda 7's REST API reports them: `{"type": "...Exception", "message": "..."}`
with Camunda's status codes (its `ExceptionHandlerHelper`): 400 for a bad request
(`InvalidRequestException`), 404 for an unknown id, 403 `AuthorizationException` with the
user and missing authorizations, 500 for an engine failure (`OptimisticLockingException`,
`ProcessEngineException`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flowdesk


@dataclass
class RestError(Exception):
    """A response the API gives instead of a result."""

    status: int
    type: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "code": None, **self.extra}

    @classmethod
    def invalid(cls, message: str) -> RestError:
        return cls(400, "InvalidRequestException", message)

    @classmethod
    def not_found(cls, message: str) -> RestError:
        return cls(404, "InvalidRequestException", message)

    @classmethod
    def forbidden(
        cls, user: str | None, message: str, permission: str, resource: str, resource_id: str
    ) -> RestError:
        missing = [
            {"permissionName": permission, "resourceName": resource, "resourceId": resource_id}
        ]
        return cls(
            403,
            "AuthorizationException",
            message,
            {"userId": user, "missingAuthorizations": missing},
        )


def from_flowdesk(err: flowdesk.FlowdeskError, user: str | None) -> RestError:
    """The response Camunda gives for the failure flowdesk reports as `err`."""
    message = str(err)
    if isinstance(err, flowdesk.NotFound):
        return RestError.not_found(message)
    if isinstance(err, flowdesk.NotAuthorized):
        return RestError.forbidden(
            user or err.user,
            f"The user with id '{user or err.user}' does not have 'TASK_WORK' permission on "
            f"resource '{err.task_id}' of type 'Task'. {message}",
            "TASK_WORK",
            "Task",
            err.task_id,
        )
    if isinstance(err, flowdesk.BpmnValidationError):
        details = [
            {
                "resource": problem.file,
                "line": problem.line,
                "element": problem.element_id,
                "message": problem.message,
            }
            for problem in err.problems
        ]
        return RestError(400, "ParseException", message, {"details": details})
    if isinstance(err, flowdesk.FormValidationError):
        return RestError(400, "InvalidRequestException", message, {"errors": dict(err.errors)})
    if isinstance(err, flowdesk.InvalidArgument | flowdesk.CorrelationError):
        return RestError.invalid(message)
    if isinstance(err, flowdesk.InstanceStateError):
        return RestError(400, "BadUserRequestException", message)
    if isinstance(err, flowdesk.TaskStateError):
        return RestError(500, "TaskAlreadyClaimedException", message)
    if isinstance(err, flowdesk.ConcurrencyConflict):
        return RestError(500, "OptimisticLockingException", message)
    return RestError(500, "ProcessEngineException", message)
