"""The demand confirmation process (客户需求确认): start helper and service handlers.

`bpmn/demand_confirmation.bpmn` takes a customer request to a confirmed, prioritised and
archived requirement specification: presales defines the scope, collects requirements through
the channels chosen (one instance per channel), organises them, rates each one (the decision
table `bpmn/requirement_priority.dmn` gives P1-P4), and the customer confirms on the portal,
with a reminder after 5 and an escalation to the account owner after 10 working days. A
`requirement_change` message from the customer, at any time, is logged and sends the
requirements back to organising. The presales process calls it as a call activity.

Requirements travel as the variable `requirements`: a list of dicts with `id` (`REQ-001`...,
stable across revisions for an unchanged title), `title`, `category`, `description` and,
once prioritised, `importance`, `urgency`, `difficulty` and `priority`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall
from flowdesk.processes.calendar import add_working_days

KEY = "demand_confirmation"
"""The process key (the BPMN process id)."""

CHANNELS = ("interview", "survey", "complaint_feedback")
"""Collection channels (访谈/问卷/投诉反馈), in the order their instances are created."""

CATEGORIES = ("functional", "performance", "interface", "usability", "other")
"""Requirement categories (功能/性能/接口/界面/其他) the organising step classifies into."""

REMINDER_WORKING_DAYS = 5
"""Working days after the confirmation request when the customer is reminded."""

ESCALATION_WORKING_DAYS = 10
"""Working days after the confirmation request when the account owner gets a follow-up task."""

_CHANNEL_FIELDS = {
    "interview": "collect_by_interview",
    "survey": "collect_by_survey",
    "complaint_feedback": "collect_from_feedback",
}
_CATEGORY_ALIASES = {
    "functional": "functional",
    "function": "functional",
    "功能": "functional",
    "功能需求": "functional",
    "performance": "performance",
    "性能": "performance",
    "性能需求": "performance",
    "interface": "interface",
    "接口": "interface",
    "接口需求": "interface",
    "usability": "usability",
    "ui": "usability",
    "界面": "usability",
    "界面需求": "usability",
    "other": "other",
    "其他": "other",
}
_ID_NUMBER = re.compile(r"^REQ-(\d+)$")


def start(
    engine: flowdesk.Engine,
    *,
    customer_id: str,
    customer_name: str,
    opportunity_id: str,
    opportunity_title: str,
    account_owner: str,
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start a demand confirmation on its own (presales starts it by call activity instead).

    Args:
        engine: An engine with this process deployed and its handlers registered.
        customer_id: The customer's id.
        customer_name: The customer's name.
        opportunity_id: The sales opportunity the requirements belong to.
        opportunity_title: Its title, used in task texts and document names.
        account_owner: User name of the salesperson responsible for the customer; an
            unanswered confirmation escalates to them after 10 working days.
        business_key: The instance's business key; `requirement_change` messages correlate
            on it.
        user: Who starts it (recorded in the history).

    Returns:
        The instance, waiting at "Define project scope".

    Raises:
        NotFound: The process is not deployed.
    """
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "opportunity_id": opportunity_id,
        "opportunity_title": opportunity_title,
        "account_owner": account_owner,
    }
    return engine.start(KEY, variables, business_key=business_key, user=user)


def parse_requirement_list(
    text: str, previous: Sequence[Mapping[str, Any]] = ()
) -> tuple[list[dict[str, Any]], int]:
    """The requirements written one per line as `category | title | description`.

    A line with one part is a functional requirement's title, with two parts category and
    title. Categories are read in English or Chinese (功能, 性能, 接口, 界面, 其他); others
    become "other". Lines with the same title (ignoring case and spacing) are merged, their
    descriptions joined. A title already in `previous` keeps its id; new titles get the next
    free `REQ-nnn`.

    Returns:
        The requirements in the order written, and how many lines were merged into others.
    """
    known = {_title_key(str(item["title"])): str(item["id"]) for item in previous}
    numbers = [int(m.group(1)) for m in (_ID_NUMBER.match(i) for i in known.values()) if m]
    next_number = max(numbers, default=0) + 1
    by_key: dict[str, dict[str, Any]] = {}
    merged = 0
    for line in text.splitlines():
        parts = [part.strip() for part in line.replace("｜", "|").split("|")]
        if not any(parts):
            continue
        if len(parts) == 1:
            category, title, description = "functional", parts[0], ""
        else:
            category = _CATEGORY_ALIASES.get(parts[0].lower(), "other")
            title, description = parts[1], " / ".join(p for p in parts[2:] if p)
        if not title:
            continue
        key = _title_key(title)
        if key in by_key:
            merged += 1
            existing = by_key[key]
            if description and description not in existing["description"]:
                existing["description"] = "; ".join(
                    d for d in (existing["description"], description) if d
                )
            continue
        requirement_id = known.get(key)
        if requirement_id is None:
            requirement_id = f"REQ-{next_number:03d}"
            next_number += 1
        by_key[key] = {
            "id": requirement_id,
            "title": title,
            "category": category,
            "description": description,
        }
    return list(by_key.values()), merged


def plan_collection(call: ServiceCall) -> dict[str, Any]:
    """Turn the scope form's channel choices into `channels`; set the bookkeeping variables.

    No channel chosen means a customer interview. A change request may already have arrived
    while the scope was defined, so an existing change log and flag are kept.
    """
    variables = call.variables
    channels = [name for name in CHANNELS if variables.get(_CHANNEL_FIELDS[name]) is True]
    return {
        "channels": channels or ["interview"],
        "revision": 0,
        "change_log": list(variables.get("change_log") or []),
        "change_pending": bool(variables.get("change_pending", False)),
        "confirmation_reminders": 0,
    }


def record_requirement_list(call: ServiceCall) -> dict[str, Any]:
    """Parse the organised list into `requirements` and open a new revision.

    The accepted changes are taken up by this list (their status becomes "taken_up"); the
    requirements stay pending only while a change request is not yet decided.
    """
    requirements, merged = parse_requirement_list(
        str(call.variables.get("requirement_list") or ""),
        call.variables.get("requirements") or (),
    )
    change_log = [dict(entry) for entry in call.variables.get("change_log") or []]
    for entry in change_log:
        if entry["status"] == "accepted":
            entry["status"] = "taken_up"
    return {
        "requirements": requirements,
        "merged_duplicates": merged,
        "revision": int(call.variables.get("revision") or 0) + 1,
        "change_log": change_log,
        "change_pending": any(entry["status"] == "recorded" for entry in change_log),
    }


def record_priority(call: ServiceCall) -> dict[str, Any]:
    """One requirement with its rating and the priority the decision table gave it."""
    variables = call.variables
    return {
        "prioritised_requirement": {
            **variables["requirement"],
            "importance": variables["importance"],
            "urgency": variables["urgency"],
            "difficulty": variables["difficulty"],
            "priority": variables["priority"],
            "analysis_notes": variables.get("analysis_notes") or "",
        }
    }


def compile_requirement_list(call: ServiceCall) -> dict[str, Any]:
    """`requirements` ordered by priority (P1 first), then in the organised order."""
    prioritised = [r for r in call.variables.get("prioritised_requirements") or [] if r]
    ordered = sorted(prioritised, key=lambda r: str(r["priority"]))
    counts = {level: 0 for level in ("P1", "P2", "P3", "P4")}
    for requirement in ordered:
        counts[str(requirement["priority"])] = counts.get(str(requirement["priority"]), 0) + 1
    return {"requirements": ordered, "priority_counts": counts}


def set_confirmation_deadlines(call: ServiceCall) -> dict[str, Any]:
    """When the customer is reminded (5 working days) and the account owner is told (10)."""
    return {
        "confirmation_reminder_due": add_working_days(call.now, REMINDER_WORKING_DAYS).isoformat(),
        "confirmation_escalation_due": add_working_days(
            call.now, ESCALATION_WORKING_DAYS
        ).isoformat(),
    }


def remind_customer(call: ServiceCall) -> dict[str, Any]:
    """Count the reminder sent for an unanswered confirmation (the portal shows it)."""
    return {
        "confirmation_reminders": int(call.variables.get("confirmation_reminders") or 0) + 1,
        "last_reminder_at": call.now.isoformat(),
    }


def archive_requirements(call: ServiceCall) -> dict[str, Any]:
    """File the confirmed specification under an archive number."""
    reference = call.business_key or call.instance_id[:8]
    return {
        "archive_no": f"REQ-{reference}-R{call.variables.get('revision', 1)}",
        "archived_at": call.now.isoformat(),
    }


def record_change(call: ServiceCall) -> dict[str, Any]:
    """Append the customer's change request (message variables `change_description` and,
    optionally, `requested_by`) to `change_log`, and flag the requirements as changing.

    The flag is raised on receipt, not after the impact assessment, so that the main flow
    cannot confirm or archive requirements a change is still pending against.
    """
    variables = call.variables
    change_log = list(variables.get("change_log") or [])
    change_log.append(
        {
            "id": f"CR-{len(change_log) + 1}",
            "received_at": call.now.isoformat(),
            "requested_by": variables.get("requested_by") or variables.get("customer_name", ""),
            "description": str(variables.get("change_description") or ""),
            "revision": variables.get("revision", 0),
            "status": "recorded",
            "impact_level": None,
            "impact_notes": None,
        }
    )
    return {"change_log": change_log, "change_pending": True}


def record_change_impact(call: ServiceCall) -> dict[str, Any]:
    """Write the impact assessment and the decision (accept or reject) into its change
    request's log entry, and say whether the requirements must be reworked.

    The entry is the one `change_id` names, or else the oldest one not assessed yet (the
    latest one when all are assessed).
    """
    variables = call.variables
    change_log = [dict(entry) for entry in variables.get("change_log") or []]
    if not change_log:
        raise ValueError("no change request recorded to assess")
    wanted = str(variables.get("change_id") or "").strip()
    named = [entry for entry in change_log if wanted and entry["id"] == wanted]
    open_entries = [entry for entry in change_log if entry["status"] == "recorded"]
    entry = (named or open_entries or change_log[-1:])[0]
    accepted = variables.get("change_decision", "accept") == "accept"
    entry.update(
        status="accepted" if accepted else "rejected",
        impact_level=variables["impact_level"],
        impact_notes=variables["impact_notes"],
        decision_reason=variables.get("decision_reason") or "",
        assessed_at=call.now.isoformat(),
    )
    # An accepted change keeps the requirements pending until they are organised again; a
    # rejected one leaves them as they are (unless another change is still undecided).
    pending = any(e["status"] in ("recorded", "accepted") for e in change_log)
    return {"change_log": change_log, "change_id": None, "change_pending": pending}


def record_plan_item(call: ServiceCall) -> dict[str, Any]:
    """One requirement's implementation plan: date, responsible department and person
    (实现时间、责任部门和负责人, seed 001 三.1)."""
    variables = call.variables
    requirement = variables["requirement"]
    return {
        "planned_requirement": {
            "id": requirement["id"],
            "title": requirement["title"],
            "priority": requirement.get("priority"),
            "planned_date": variables["planned_date"],
            "responsible_department": variables["responsible_department"],
            "responsible_person": variables["responsible_person"],
        }
    }


SERVICES = {
    "demandConfirmationPlanCollection": plan_collection,
    "demandConfirmationRecordList": record_requirement_list,
    "demandConfirmationRecordPriority": record_priority,
    "demandConfirmationCompileList": compile_requirement_list,
    "demandConfirmationDeadlines": set_confirmation_deadlines,
    "demandConfirmationRemind": remind_customer,
    "demandConfirmationArchive": archive_requirements,
    "demandConfirmationRecordChange": record_change,
    "demandConfirmationRecordImpact": record_change_impact,
    "demandConfirmationRecordPlanItem": record_plan_item,
}
"""The service tasks' handlers, by the name their `delegateExpression` gives."""


def register(registry: HandlerRegistry) -> None:
    """Register the handlers of this process's service tasks."""
    for name, handler in SERVICES.items():
        registry.register_service(name, handler)


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())
