"""Complaint handling (投诉处理): record a complaint, handle it within a deadline, follow up
with the customer and feed it into demand management.

Seeds 000 (第五条: 及时处理客户投诉), 001 §3 (客户投诉和反馈: 及时处理客户投诉, 并将其纳入需求
管理体系中), 003 (CRM 需求 (11): 投诉功能 ... 相应的回访记录) and 004 §3.3 (客户投诉处理机制)
all require it. `bpmn/complaint_handling.bpmn` starts either here, with `start` (a complaint by
call, letter or fax), or by the message `complaint_received` that order review's after-sales
visit throws. Quality handles the complaint by a deadline in working days (a company setting:
the sources say "及时", in time, and name no number); past it, the sales manager follows up.
Sales calls the customer back (回访记录); an unsatisfied customer sends the complaint back to
quality. A closed complaint is written up (投诉处理记录) and throws `complaint_requirement`,
which starts *demand confirmation* with the complaint as a collected requirement.
"""

from __future__ import annotations

from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall
from flowdesk.processes import calendar

KEY = "complaint_handling"
"""The process key (the BPMN process id)."""

MESSAGE_COMPLAINT_RECEIVED = "complaint_received"
"""The message that starts complaint handling from order review's after-sales visit."""

MESSAGE_COMPLAINT_REQUIREMENT = "complaint_requirement"
"""The message a closed complaint throws; it starts demand confirmation."""

HANDLING_DEADLINE_WORKING_DAYS = 5
"""Company setting, not a rule of the sources (they ask for 及时处理, handling in time, with no
number): quality handles a complaint within this many working days of its recording."""

SERVICE_DEADLINE = "complaintHandlingDeadline"
"""The service name `handling_deadline` is registered under."""


def start(
    engine: flowdesk.Engine,
    *,
    customer_id: str,
    customer_name: str,
    complaint_text: str,
    account_owner: str,
    complaint_channel: str = "call",
    order_no: str | None = None,
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start complaint handling for a complaint by call, letter or fax.

    Args:
        engine: An engine with `bpmn/complaint_handling.bpmn` deployed.
        customer_id: The customer's id.
        customer_name: The customer's name.
        complaint_text: The complaint in the customer's words.
        account_owner: User name of the salesperson responsible for the customer; they record
            the complaint and call the customer back.
        complaint_channel: How it came in: "call", "letter", "fax" or "visit".
        order_no: The order it concerns, if any.
        business_key: The instance's business key.
        user: Who starts it (recorded in the history); by default the account owner.

    Returns:
        The instance, waiting at "Record complaint".

    Raises:
        NotFound: The process is not deployed.
    """
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "complaint_text": complaint_text,
        "complaint_channel": complaint_channel,
        "account_owner": account_owner,
        "order_no": order_no,
    }
    return engine.start(KEY, variables, business_key=business_key, user=user or account_owner)


def handling_deadline(call: ServiceCall) -> dict[str, Any]:
    """`complaintHandlingDeadline`: number the complaint and set when it must be handled.

    `complaint_due` is an ISO text the boundary timer of "Handle complaint" reads as
    `timeDate`, `HANDLING_DEADLINE_WORKING_DAYS` working days after the recording.
    """
    number = f"CP-{(call.business_key or call.instance_id[:8]).upper()}"
    category = call.variables.get("complaint_category", "other")
    return {
        "complaint_no": number,
        "complaint_title": f"Complaint {number} ({category})",
        "complaint_recorded_at": call.now.isoformat(),
        "complaint_due": calendar.add_working_days(
            call.now, HANDLING_DEADLINE_WORKING_DAYS
        ).isoformat(),
    }


def register(registry: HandlerRegistry) -> None:
    """Register the handlers this process's service tasks need."""
    registry.register_service(SERVICE_DEADLINE, handling_deadline)
