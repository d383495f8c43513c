"""Rules that cut across the processes: who may read a customer's archive, and its contacts.

Customer archive access (客户档案查阅, seed 003): an employee may read the records of a
customer of their own department once their department manager approves, and of another
department's customer only once the general manager (`leadership`) approves. The process
`customer_archive_access` (`bpmn/customer_archive_access.bpmn`) carries the request; an
approval grants access for a limited period (the `accessDays` property of its service
task, 7 days), and `may_read` answers whether it holds now.

Contact history (记录在案): every user task that is a contact with the customer carries the
extension property `customerContact` (the channel); `contact_history` lists a customer's
completed ones across every process.

Everything here is built on the public API only. The approval tasks exclude the requester
(`flowdesk.excludedUsers`), so a sales manager asking to read a sales customer needs another
sales manager, or the task reassigned, to approve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall
from flowdesk.processes.roles import ROLES

KEY = "customer_archive_access"

GRANT_SERVICE = "customersGrantArchiveAccess"

CONTACT_PROPERTY = "customerContact"

CHANNELS = ("visit", "call", "meeting", "email", "portal", "survey")
"""The values `customerContact` takes."""

DEPARTMENTS = tuple(role.removesuffix("_manager") for role in ROLES if role.endswith("_manager"))
"""The departments that own customers: those with a `<department>_manager` role."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """One completed user task that was a contact with the customer."""

    at: datetime  # when the task was completed
    user: str | None  # who completed it; None for a system completion
    channel: str  # the task's `customerContact` property: visit, call, meeting, ...
    step: str  # the task's name
    process_key: str
    instance_id: str
    business_key: str | None
    task_id: str
    data: dict[str, Any]  # the form data the task was completed with; {} if not recorded


def request_access(
    engine: flowdesk.Engine,
    *,
    requester: str,
    requester_department: str,
    customer_id: str,
    customer_name: str,
    customer_department: str,
    reason: str,
    business_key: str | None = None,
) -> flowdesk.ProcessInstance:
    """Ask to read a customer's archive; the approval task goes to the right manager.

    The requester's department is taken as given: the engine's group mapping is not part of
    the public API, so the caller (the application that knows the signed-in user) vouches
    for it.

    Args:
        engine: An engine with `customer_archive_access` deployed and `register` applied.
        requester: The employee (user name) who wants to read the archive.
        requester_department: The requester's department, one of `DEPARTMENTS`.
        customer_id: The customer whose archive is asked for.
        customer_name: The customer's name, shown on the approval task.
        customer_department: The department that owns the customer, one of `DEPARTMENTS`.
        reason: Why the requester needs the archive.
        business_key: The instance's business key, if the application keeps one.

    Returns:
        The running instance, waiting at the department manager's approval (own
        department) or the general manager's (another department).

    Raises:
        ValueError: A department is not one of `DEPARTMENTS`, or `reason` is empty.
        NotFound: The process is not deployed.
    """
    for name, department in (
        ("requester_department", requester_department),
        ("customer_department", customer_department),
    ):
        if department not in DEPARTMENTS:
            raise ValueError(f"{name} must be one of {', '.join(DEPARTMENTS)}, not {department!r}")
    if not reason.strip():
        raise ValueError("an archive access request needs a reason")
    return engine.start(
        KEY,
        {
            "requester": requester,
            "requester_department": requester_department,
            "customer_id": customer_id,
            "customer_name": customer_name,
            "customer_department": customer_department,
            "reason": reason,
        },
        business_key=business_key,
        user=requester,
    )


def may_read(
    engine: flowdesk.Engine, user: str, customer_id: str, *, now: datetime | None = None
) -> bool:
    """Whether `user` holds a granted, unexpired access to the customer's archive.

    True only if a completed `customer_archive_access` instance of `user` for the customer
    reached "access granted" and `now` lies in [`access_granted_at`, `access_until`).

    Cost: one query for the user's completed requests for the customer (a variable filter,
    which reads the instance rows of the process without an index on the variables).

    Args:
        engine: The engine the requests ran on.
        user: Who wants to read.
        customer_id: Whose archive.
        now: The time to ask about (timezone-aware); the engine's clock when not given.
    """
    now = now or engine.now()
    granted = engine.instances(
        key=KEY, state="completed", variables={"requester": user, "customer_id": customer_id}
    )
    for instance in granted:
        variables = instance.variables
        if "access_until" in variables and datetime.fromisoformat(
            variables["access_granted_at"]
        ) <= now < datetime.fromisoformat(variables["access_until"]):
            return True
    return False


def contact_history(engine: flowdesk.Engine, customer_id: str) -> list[Contact]:
    """Every recorded contact with the customer, oldest first, across all processes.

    A contact is a completed user task whose `Task.properties` holds `customerContact`, in
    an instance whose `customer_id` variable is the customer (called instances included,
    as they get `customer_id` passed in). Open and cancelled tasks are not contacts, nor is
    an archive access request.

    Cost: one query finds the customer's instances (`engine.instances(variables=...)`, a
    filter on the variables that no index serves), then their completed tasks and, for those
    with a contact, their history are read. It is meant for a customer's page, not for a
    loop over customers.

    Args:
        engine: The engine the processes ran on.
        customer_id: The customer.

    Returns:
        The contacts, by completion time (then instance and task id).
    """
    contacts: list[Contact] = []
    for instance in engine.instances(variables={"customer_id": customer_id}):
        if instance.key == KEY:
            continue
        tasks = [
            task
            for task in engine.tasks(instance_id=instance.id, state="completed")
            if CONTACT_PROPERTY in task.properties
        ]
        if not tasks:
            continue
        data = _completion_data(engine.history(instance.id))
        contacts.extend(
            Contact(
                at=task.completed_at or task.created_at,
                user=task.completed_by,
                channel=task.properties[CONTACT_PROPERTY],
                step=task.name,
                process_key=instance.key,
                instance_id=instance.id,
                business_key=instance.business_key,
                task_id=task.id,
                data=data.get(task.id, {}),
            )
            for task in tasks
        )
    contacts.sort(key=lambda contact: (contact.at, contact.instance_id, contact.task_id))
    return contacts


def grant_archive_access(call: ServiceCall) -> dict[str, Any]:
    """The `customersGrantArchiveAccess` service: open the access period from now.

    The period is the task's `accessDays` property (7 when absent).
    """
    days = int(call.properties.get("accessDays", "7"))
    return {
        "access_granted_at": call.now.isoformat(),
        "access_until": (call.now + timedelta(days=days)).isoformat(),
    }


def register(registry: HandlerRegistry) -> None:
    """Register the service the archive access process needs."""
    registry.register_service(GRANT_SERVICE, grant_archive_access)


def _completion_data(events: list[flowdesk.HistoryEvent]) -> dict[str, dict[str, Any]]:
    """Task id -> the data it was completed with, from `task_completed` history events."""
    return {
        event.data["task_id"]: dict(event.data.get("variables") or {})
        for event in events
        if event.type == "task_completed" and "task_id" in event.data
    }
