"""Rules that cut across the processes: the customer master record, who may read a customer's
archive, what happens when the employee responsible leaves, and the contact history.

Customer master record (客户档案, seed 003 客户管理制度 1.2-1.7): each customer is one running
instance of `bpmn/customer_record.bpmn` whose variables are the record: `customer_id`,
`customer_name`, `department` (the business department that owns the customer), `owner` (the
employee responsible), `second_contact` (key customers need two people in contact, 1.6.3),
`status` (new -> lead -> signed: 新客户, 线索客户 once a quotation is accepted, B1.2, and a
signed customer), `category` (目标/一般/重点/潜在), the basic-information fields of the
客户基本信息表 and `contacts`, the calls, letters and faxes recorded in the archive (1.6.2).
The process runs the record's upkeep: a reported change is fed back on the 《客户信息维护表》
within 5 working days (1.4.2, escalated to the department manager when late), and a change of
the employee responsible makes the new one tell the customer (1.6.4). Presales opens a record
when the market department files a new customer (message `customer_filed`); `open_record`
opens one for a customer filed elsewhere. Keeping the record as a process instance stores it
through the public API (no table of its own, history included) and puts its upkeep in a
diagram.

Variables that follow the people: the shipped processes assign customer work with
`${customers.owner(customer_id)}`, a bean (`CustomerDirectory`) that reads the record's owner
when the task is created, so after `depart(engine, "sam", "sally")` every later task of
every running process goes to sally.

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

The engine enforces the access rule: `register` makes `archive_policy` the registry's read
authorizer, so `Engine.instance/history/documents(..., user=...)` and the CLI refuse an
unauthorized reader with `flowdesk.ReadNotAuthorized` (see `flowdesk.authorization`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall
from flowdesk.processes import calendar
from flowdesk.processes.roles import ROLES

KEY = "customer_archive_access"
"""The key of the archive access process (the BPMN process id)."""

GRANT_SERVICE = "customersGrantArchiveAccess"
"""The service name `grant_archive_access` is registered under."""

CONTACT_PROPERTY = "customerContact"
"""The extension property that marks a user task as a contact with the customer; its value is
the channel (one of `CHANNELS`). `contact_history` lists the completed ones."""

CHANNELS = ("visit", "call", "meeting", "email", "portal", "survey", "letter", "fax")
"""The values `customerContact` takes, and the channels `log_contact` records."""

RECORD_KEY = "customer_record"
"""The process whose running instances are the customer master records."""

BEAN = "customers"
"""The name the `CustomerDirectory` bean has in expressions: `${customers.owner(customer_id)}`."""

STATUSES = ("new", "lead", "signed")
"""A customer's status, in the only order it moves: 新客户, 线索客户, 签约客户."""

CATEGORIES = ("target", "general", "key", "potential")
"""The four customer categories (客户界定): 目标客户, 一般客户, 重点客户, 潜在客户."""

MAINTENANCE_WORKING_DAYS = 5
"""A change of a filed customer is fed back to the market department within 5 working days."""

RECORD_FIELDS = (
    "customer_name",
    "category",
    "enterprise_nature",
    "supervising_unit",
    "address",
    "contact_person",
    "contact_phone",
)
"""The basic-information fields of the record (客户基本信息表) a maintenance sheet may change."""

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
    reason: str,
    customer_name: str | None = None,
    customer_department: str | None = None,
    business_key: str | None = None,
) -> flowdesk.ProcessInstance:
    """Ask to read a customer's archive; the approval task goes to the right manager.

    The customer's name and department come from its master record (`record`); the caller
    gives them only for a customer without one (filed before the master data existed), and a
    department that contradicts the record is refused. The requester's department is taken
    as given: the engine's group mapping is not part of the public API, so the caller (the
    application that knows the signed-in user) vouches for it.

    Args:
        engine: An engine with `customer_archive_access` deployed and `register` applied.
        requester: The employee (user name) who wants to read the archive.
        requester_department: The requester's department, one of `DEPARTMENTS`.
        customer_id: The customer whose archive is asked for.
        reason: Why the requester needs the archive.
        customer_name: The customer's name, shown on the approval task; by default the
            record's.
        customer_department: The department that owns the customer, one of `DEPARTMENTS`;
            by default the record's, and required for a customer without a record.
        business_key: The instance's business key, if the application keeps one.

    Returns:
        The running instance, waiting at the department manager's approval (own
        department) or the general manager's (another department).

    Raises:
        ValueError: A department is not one of `DEPARTMENTS`, differs from the record's, or
            is missing for a customer without a record; or `reason` is empty.
        NotFound: The process is not deployed.
    """
    found = record(engine, customer_id)
    if found is not None:
        if customer_department not in (None, found.department):
            raise ValueError(
                f"customer_department: customer {customer_id!r} belongs to "
                f"{found.department!r} in its master record, not {customer_department!r}"
            )
        customer_department = found.department
        customer_name = customer_name or found.customer_name
    elif customer_department is None:
        raise ValueError(
            f"customer_department: customer {customer_id!r} has no master record; give its "
            "department"
        )
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
            "customer_name": customer_name or customer_id,
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
    as they get `customer_id` passed in), or a call, letter or fax logged into the
    customer's record with `log_contact` (`task_id` "" and `data` {}). Open and cancelled
    tasks are not contacts, nor is an archive access request.

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
    found = record(engine, customer_id)
    if found is not None:
        # The calls, letters and faxes logged into the archive (`log_contact`).
        contacts.extend(
            Contact(
                at=datetime.fromisoformat(str(logged["at"])),
                user=logged.get("user"),
                channel=str(logged["channel"]),
                step=str(logged["summary"]),
                process_key=RECORD_KEY,
                instance_id=found.instance_id,
                business_key=None,
                task_id="",
                data={},
            )
            for logged in found.contacts
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
    """Register the services of the archive access and customer record processes, the
    `customers` bean, and `archive_policy` as the registry's read authorizer."""
    registry.register_service(GRANT_SERVICE, grant_archive_access)
    registry.register_service("customersMaintenanceDeadline", maintenance_deadline)
    registry.register_service("customersApplyMaintenance", apply_maintenance)
    registry.register_service("customersRecordContact", record_contact)
    registry.register_service("customersSetStatus", set_record_status)
    registry.register_bean(BEAN, CustomerDirectory())
    registry.register_read_authorizer(archive_policy)


def _completion_data(events: list[flowdesk.HistoryEvent]) -> dict[str, dict[str, Any]]:
    """Task id -> the data it was completed with, from `task_completed` history events."""
    return {
        event.data["task_id"]: dict(event.data.get("variables") or {})
        for event in events
        if event.type == "task_completed" and "task_id" in event.data
    }


# -- the customer master record ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRecord:
    """A customer's master data, as its `customer_record` instance holds it now."""

    customer_id: str
    customer_name: str
    department: str  # the business department that owns the customer, one of DEPARTMENTS
    owner: str  # the employee responsible for the customer
    second_contact: str | None  # the second person in contact (key customers)
    status: str  # one of STATUSES
    category: str  # one of CATEGORIES
    enterprise_nature: str | None
    supervising_unit: str | None
    address: str | None
    contact_person: str | None
    contact_phone: str | None
    contacts: tuple[dict[str, Any], ...]  # calls, letters, faxes recorded (log_contact)
    instance_id: str  # the record's `customer_record` instance

    @property
    def is_key_customer(self) -> bool:
        """A key customer (重点客户): two or more people must keep in contact with it."""
        return self.category == "key"


@dataclass(frozen=True, slots=True, kw_only=True)
class Handover:
    """What `depart` did when an employee left."""

    leaver: str
    successor: str
    customers: tuple[str, ...]  # the customers whose owner or second contact changed
    tasks_moved: int  # open tasks handed from the leaver to the successor


def open_record(
    engine: flowdesk.Engine,
    *,
    customer_id: str,
    customer_name: str,
    department: str,
    owner: str,
    category: str,
    second_contact: str | None = None,
    status: str = "new",
    enterprise_nature: str | None = None,
    supervising_unit: str | None = None,
    address: str | None = None,
    contact_person: str | None = None,
    contact_phone: str | None = None,
    user: str | None = None,
) -> CustomerRecord:
    """Open the master record of a customer filed outside presales (建立客户档案户头).

    A key customer without `second_contact` gets a task for the department manager to name
    one (1.6.3).

    Raises:
        InvalidArgument: The customer already has a record, or `department`, `category` or
            `status` is not one of DEPARTMENTS, CATEGORIES, STATUSES.
        NotFound: `customer_record` is not deployed.
    """
    _check_choice("department", department, DEPARTMENTS)
    _check_choice("category", category, CATEGORIES)
    _check_choice("status", status, STATUSES)
    if record(engine, customer_id) is not None:
        raise flowdesk.InvalidArgument(f"customer {customer_id!r} already has a master record")
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "department": department,
        "owner": owner,
        "second_contact": second_contact,
        "status": status,
        "category": category,
        "enterprise_nature": enterprise_nature,
        "supervising_unit": supervising_unit,
        "address": address,
        "contact_person": contact_person,
        "contact_phone": contact_phone,
    }
    instance = engine.start(RECORD_KEY, variables, business_key=customer_id, user=user)
    return _record_of(instance)


def record(engine: flowdesk.Engine, customer_id: str) -> CustomerRecord | None:
    """The customer's master record, or None if it has none (open or closed)."""
    if not customer_id:
        return None
    found = engine.instances(
        key=RECORD_KEY, state="running", variables={"customer_id": customer_id}
    )
    return _record_of(found[-1]) if found else None


def records(engine: flowdesk.Engine, *, owner: str | None = None) -> list[CustomerRecord]:
    """Every open master record, oldest first; only `owner`'s when given."""
    variables = None if owner is None else {"owner": owner}
    return [
        _record_of(instance)
        for instance in engine.instances(key=RECORD_KEY, state="running", variables=variables)
    ]


def report_change(
    engine: flowdesk.Engine, customer_id: str, *, description: str, user: str | None = None
) -> CustomerRecord:
    """Report a change of a filed customer: its owner gets the 《客户信息维护表》, due in 5
    working days, and the market department files it into the record (1.4.2).

    Raises:
        InvalidArgument: The customer has no master record, or `description` is empty.
    """
    if not description.strip():
        raise flowdesk.InvalidArgument("a reported change needs a description")
    found = _existing(engine, customer_id)
    engine.correlate(
        "customer_changed",
        correlation_keys={"customer_id": customer_id},
        variables={"change_reported": description, "change_reported_by": user},
    )
    return _existing(engine, found.customer_id)


def log_contact(
    engine: flowdesk.Engine,
    customer_id: str,
    *,
    channel: str,
    summary: str,
    user: str,
) -> CustomerRecord:
    """Record a call, letter, fax or other contact in the customer's archive (记录在案, 1.6.2).

    Raises:
        InvalidArgument: The customer has no master record, `channel` is not one of CHANNELS,
            or `summary` is empty.
    """
    _check_choice("channel", channel, CHANNELS)
    if not summary.strip():
        raise flowdesk.InvalidArgument("a contact record needs a summary")
    _existing(engine, customer_id)
    contact = {"channel": channel, "summary": summary, "user": user}
    engine.correlate(
        "customer_contact_logged",
        correlation_keys={"customer_id": customer_id},
        variables={"logged_contact": contact},
    )
    return _existing(engine, customer_id)


def set_status(engine: flowdesk.Engine, customer_id: str, status: str) -> CustomerRecord:
    """Move the customer on to `status`: a lead once a quotation is accepted (线索客户, B1.2),
    signed once it has done business with the company.

    Raises:
        InvalidArgument: The customer has no master record, or `status` is not later than its
            status now (a customer never goes back).
    """
    _check_choice("status", status, STATUSES)
    found = _existing(engine, customer_id)
    if STATUSES.index(status) <= STATUSES.index(found.status):
        raise flowdesk.InvalidArgument(
            f"customer {customer_id!r} is {found.status!r}; its status moves only forward "
            f"({' -> '.join(STATUSES)})"
        )
    engine.correlate(
        "customer_status_changed",
        correlation_keys={"customer_id": customer_id},
        variables={"requested_status": status},
    )
    return _existing(engine, customer_id)


def depart(
    engine: flowdesk.Engine, leaver: str, successor: str, *, user: str | None = None
) -> Handover:
    """An employee leaves: their customers and open tasks go to `successor` (员工调离, 1.6.4).

    Each master record `leaver` owns (or is second contact of) gets `successor` instead, and
    its process issues a contact change notice and gives `successor` the task of telling the
    customer. Then every open task `leaver` holds or is a candidate user of moves to
    `successor` (`Engine.reassign`). Later tasks assigned with
    `${customers.owner(customer_id)}` go to `successor`, in every running process.

    Each customer's hand-over is one engine call, so a failure part-way leaves the customers
    handed over so far with `successor`; calling `depart` again finishes the rest.

    Raises:
        InvalidArgument: A name is empty, or `leaver` and `successor` are the same.
    """
    if not leaver or not successor or leaver == successor:
        raise flowdesk.InvalidArgument("depart needs two different, non-empty user names")
    moved: list[str] = []
    changed_at = engine.now().isoformat()
    for field in ("owner", "second_contact"):
        for instance in engine.instances(
            key=RECORD_KEY, state="running", variables={field: leaver}
        ):
            variables: dict[str, Any] = {
                field: successor,
                "previous_contact": leaver,
                "new_contact": successor,
                "contact_changed_at": changed_at,
            }
            engine.correlate(
                "customer_owner_changed",
                correlation_keys={"customer_id": instance.variables["customer_id"]},
                variables=variables,
            )
            moved.append(str(instance.variables["customer_id"]))
    tasks_moved = engine.reassign(leaver, successor, user=user)
    return Handover(
        leaver=leaver, successor=successor, customers=tuple(moved), tasks_moved=tasks_moved
    )


class CustomerDirectory:
    """The `customers` bean: the master data an expression looks up when a step runs.

    `${customers.owner(customer_id)}` as a task's assignee gives the customer's employee
    responsible at the moment the task is created, so tasks follow the customer's owner
    through `depart`; the value is never frozen in the instance. It reads the engine running
    the step (`flowdesk.current_engine()`).
    """

    def owner(self, customer_id: str | None, fallback: str | None = None) -> str | None:
        """The customer's owner; `fallback` (e.g. `${account_owner}`) when it has no record."""
        found = self._record(customer_id)
        return found.owner if found is not None else fallback

    def department(self, customer_id: str | None) -> str | None:
        """The department that owns the customer, or None when it has no record."""
        found = self._record(customer_id)
        return found.department if found is not None else None

    def second_contact(self, customer_id: str | None) -> str | None:
        """The customer's second contact person, if any."""
        found = self._record(customer_id)
        return found.second_contact if found is not None else None

    @staticmethod
    def _record(customer_id: str | None) -> CustomerRecord | None:
        engine = flowdesk.current_engine()
        if engine is None or not customer_id:
            return None
        return record(engine, str(customer_id))


def archive_policy(request: flowdesk.ReadRequest) -> str | None:
    """The read authorizer of seed 003's 客户档案查阅, for `Engine(read_authorizer=...)`.

    An instance with a `customer_id` is that customer's archive. It may be read by the
    customer's owner and second contact, by anyone who holds or completed one of the
    instance's tasks (they work on it), and by anyone holding a granted, unexpired archive
    access (`may_read`: own department's customer approved by its manager, another
    department's by the general manager). Everyone else is refused. An instance without a
    customer is not an archive, and the access requests themselves are readable by their
    requester.

    Returns:
        None to allow the read, else the reason it is refused.
    """
    variables = request.instance.variables
    customer_id = variables.get("customer_id")
    if not customer_id:
        return None
    engine, user = request.engine, request.user
    if request.instance.key == KEY and variables.get("requester") == user:
        return None
    found = record(engine, str(customer_id))
    if found is not None and user in (found.owner, found.second_contact):
        return None
    instance_id = request.instance.id
    for task in engine.tasks(instance_id=instance_id, state="all"):
        if user in (task.assignee, task.completed_by):
            return None
    if may_read(engine, user, str(customer_id), now=request.now):
        return None
    if found is None:
        return (
            f"customer {customer_id} has no master record; only those working on the "
            "instance may read it"
        )
    return (
        f"customer {customer_id} belongs to the {found.department} department: reading its "
        f"archive needs the approval of the {found.department} manager (own department) or "
        "of the general manager (another department); ask with request_access"
    )


# -- service handlers of customer_record.bpmn --------------------------------------------------


def maintenance_deadline(call: ServiceCall) -> dict[str, Any]:
    """`customersMaintenanceDeadline`: the maintenance sheet is due in 5 working days."""
    return {
        "change_reported_at": call.now.isoformat(),
        "maintenance_due": calendar.add_working_days(
            call.now, MAINTENANCE_WORKING_DAYS
        ).isoformat(),
    }


def apply_maintenance(call: ServiceCall) -> dict[str, Any]:
    """`customersApplyMaintenance`: the sheet's non-empty `new_*` fields become the record's,
    and the sheet is appended to `maintenance_log` (the `new_*` fields are cleared)."""
    variables = call.variables
    updates: dict[str, Any] = {}
    changes: dict[str, dict[str, Any]] = {}
    for field in RECORD_FIELDS:
        value = variables.get(f"new_{field}")
        if value not in (None, "") and value != variables.get(field):
            changes[field] = {"before": variables.get(field), "after": value}
            updates[field] = value
        updates[f"new_{field}"] = None
    entry = {
        "description": variables.get("change_description"),
        "reported_at": variables.get("change_reported_at"),
        "due": variables.get("maintenance_due"),
        "filed_at": call.now.isoformat(),
        "changes": changes,
    }
    updates["maintenance_log"] = [*variables.get("maintenance_log", []), entry]
    return updates


def record_contact(call: ServiceCall) -> dict[str, Any]:
    """`customersRecordContact`: append the logged call, letter or fax to `contacts`."""
    contact = {**call.variables["logged_contact"], "at": call.now.isoformat()}
    return {"contacts": [*call.variables.get("contacts", []), contact], "logged_contact": None}


def set_record_status(call: ServiceCall) -> dict[str, Any]:
    """`customersSetStatus`: the requested status, with when it changed."""
    status = call.variables["requested_status"]
    history = [
        *call.variables.get("status_history", []),
        {"status": status, "at": call.now.isoformat()},
    ]
    return {"status": status, "status_history": history}


def _record_of(instance: flowdesk.ProcessInstance) -> CustomerRecord:
    v = instance.variables
    return CustomerRecord(
        customer_id=str(v["customer_id"]),
        customer_name=str(v.get("customer_name") or ""),
        department=str(v.get("department") or ""),
        owner=str(v.get("owner") or ""),
        second_contact=v.get("second_contact") or None,
        status=str(v.get("status") or "new"),
        category=str(v.get("category") or ""),
        enterprise_nature=v.get("enterprise_nature"),
        supervising_unit=v.get("supervising_unit"),
        address=v.get("address"),
        contact_person=v.get("contact_person"),
        contact_phone=v.get("contact_phone"),
        contacts=tuple(v.get("contacts") or ()),
        instance_id=instance.id,
    )


def _existing(engine: flowdesk.Engine, customer_id: str) -> CustomerRecord:
    found = record(engine, customer_id)
    if found is None:
        raise flowdesk.InvalidArgument(f"customer {customer_id!r} has no master record")
    return found


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise flowdesk.InvalidArgument(f"{name} must be one of {', '.join(choices)}, not {value!r}")
