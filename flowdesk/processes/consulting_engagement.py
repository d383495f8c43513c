"""The consulting engagement process (管理咨询的工作流程): start helper, handlers and documents.

A management-consulting project runs from the customer's first request to the closing of the
service, in six phases (embedded sub-processes of `bpmn/consulting_engagement.bpmn`): project
intake, kickoff, investigation, solution design, support and training, close service. Its
documents are the project proposal (each revision), the diagnostic report, the final report
and the service summary.

Business key: the customer's consulting account, `consulting-<customer_id>` unless the
caller gives another. A follow-up engagement, started by the message `consulting_proposal`
that the "new project proposal" step throws, gets the thrower's business key (flowdesk gives
a message-started instance the thrower's), so one customer's engagements share it and
`Engine.instances(key=KEY, business_key=...)` lists the chain, oldest first; each follow-up
names its predecessor in `previous_engagement` (an instance id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall

KEY = "consulting_engagement"
"""The process key (the BPMN process id)."""

PROPOSAL_MESSAGE = "consulting_proposal"
"""The message a new project proposal throws; it starts the follow-up engagement."""


def business_key_for(customer_id: str) -> str:
    """The business key of a customer's consulting engagements: `consulting-<customer_id>`."""
    return f"consulting-{customer_id}"


def start(
    engine: flowdesk.Engine,
    *,
    customer_id: str,
    customer_name: str,
    engagement_topic: str,
    contact_person: str = "",
    contact_phone: str = "",
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start an engagement for a customer's consulting request (咨询需求收集).

    The first task is the consultant's initial contact with the customer.

    Args:
        engine: An engine where `bpmn/consulting_engagement.bpmn` is deployed.
        customer_id: The customer's id, as in every process.
        customer_name: The customer's name.
        engagement_topic: What the customer asks the consultants about.
        contact_person: The customer's contact.
        contact_phone: The contact's phone number.
        business_key: Defaults to `business_key_for(customer_id)`.
        user: Who registers the request (recorded in the history).

    Returns:
        The new instance, waiting at its first user task.

    Raises:
        NotFound: The process is not deployed.
    """
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "engagement_topic": engagement_topic,
        "contact_person": contact_person,
        "contact_phone": contact_phone,
    }
    return engine.start(
        KEY,
        variables,
        business_key=business_key if business_key is not None else business_key_for(customer_id),
        user=user,
    )


def register_engagement(call: ServiceCall) -> dict[str, Any]:
    """`consultingRegisterEngagement`: number the engagement and set the variables later steps read.

    Both start events lead here: a consulting request (from `start`) and a follow-up proposal
    (the `consulting_proposal` message, which brings `previous_engagement`).
    """
    variables = call.variables
    return {
        "engagement_id": call.instance_id,
        "engagement_no": f"CE-{call.now:%Y%m%d}-{call.instance_id[:6].upper()}",
        "registered_on": call.now.date().isoformat(),
        "previous_engagement": variables.get("previous_engagement"),
        "contact_person": variables.get("contact_person", ""),
        "contact_phone": variables.get("contact_phone", ""),
        "proposal_revision": 0,
        "design_round": 0,
        "feedback_log": [],
    }


def plan_presentations(call: ServiceCall) -> dict[str, Any]:
    """`consultingPlanPresentations`: the design topics, one presentation each (分专题介绍).

    `design_topics` is the comma-separated text of the initial design's form; the result
    `design_topic_list` drives the multi-instance presentation task.
    """
    return {"design_topic_list": split_topics(str(call.variables.get("design_topics", "")))}


def record_feedback(call: ServiceCall) -> dict[str, Any]:
    """`consultingRecordFeedback`: append the customer's implementation feedback to the log.

    The log (`feedback_log`, a list of dicts with `round`, `on`, `decision`, `feedback`) is
    the service record that closing the service files and the service summary lists.
    """
    log = list(call.variables.get("feedback_log", []))
    log.append(
        {
            "round": len(log) + 1,
            "on": call.now.date().isoformat(),
            "decision": call.variables.get("support_decision"),
            "feedback": call.variables.get("implementation_feedback") or "",
        }
    )
    return {"feedback_log": log}


def split_topics(text: str) -> list[str]:
    """The topics of a comma-separated text (also 、 and ，), stripped, without repeats."""
    for separator in ("、", "，", ";", "；"):
        text = text.replace(separator, ",")
    topics: list[str] = []
    for part in text.split(","):
        topic = part.strip()
        if topic and topic not in topics:
            topics.append(topic)
    return topics


class RequiredWhen(flowdesk.UserTaskHandler):
    """Asks for fields that the form cannot require, because only some answers need them.

    Args:
        field: The deciding form field.
        needs: For each answer of `field` that needs more, the fields it needs, each with the
            message shown when it is missing.
    """

    def __init__(self, field: str, needs: Mapping[Any, Mapping[str, str]]) -> None:
        self.field = field
        self.needs = {answer: dict(fields) for answer, fields in needs.items()}

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        required = self.needs.get(data.get(self.field), {})
        errors = {
            name: message
            for name, message in required.items()
            if not str(data.get(name) or "").strip()
        }
        if errors:
            raise flowdesk.FormValidationError(task.id, errors)


class TopicsGiven(flowdesk.UserTaskHandler):
    """The initial design must name at least one topic to present (分专题介绍)."""

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        if not split_topics(str(data.get("design_topics", ""))):
            raise flowdesk.FormValidationError(
                task.id, {"design_topics": "name at least one topic, separated by commas"}
            )


USER_TASK_HANDLERS: dict[str, flowdesk.UserTaskHandler] = {
    "Task_discuss_proposal": RequiredWhen(
        "proposal_decision",
        {
            "change": {"change_requests": "say which changes you ask for"},
            "decline": {"decline_reason": "say why you decline"},
        },
    ),
    "Task_review_design": RequiredWhen(
        "design_decision", {"adjust": {"design_feedback": "say which adjustments you ask for"}}
    ),
    "Task_implementation_feedback": RequiredWhen(
        "support_decision", {"feedback": {"implementation_feedback": "give your feedback"}}
    ),
    "Task_propose_new_project": RequiredWhen(
        "follow_up_proposed", {True: {"follow_up_topic": "name the follow-up project's topic"}}
    ),
    "Task_initial_design": TopicsGiven(),
}
"""User-task handlers of this process, by element id."""


def register(registry: HandlerRegistry) -> None:
    """Register the handlers this process's service tasks and user tasks need."""
    registry.register_service("consultingRegisterEngagement", register_engagement)
    registry.register_service("consultingPlanPresentations", plan_presentations)
    registry.register_service("consultingRecordFeedback", record_feedback)
    for element_id, handler in USER_TASK_HANDLERS.items():
        registry.register_user_task(handler, element_id=element_id, process_key=KEY)
