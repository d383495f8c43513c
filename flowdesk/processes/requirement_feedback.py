"""Requirement feedback and evaluation (需求反馈和评估): what the customer says about the
implemented requirements, and what presales concludes from it.

Seed 001 四 asks, once requirements are implemented, to collect the customer's feedback
(访谈、问卷调查、满意度调查) and evaluate the effect (需求评估); 五.1 files the feedback report
(需求反馈报告) and the evaluation report (需求评估报告) with the requirement documents.
`bpmn/requirement_feedback.bpmn` starts either by the message `requirements_delivered`, which
order review throws when an order from a presales opportunity is delivered, paid and visited
without a complaint, or here with `start` (a periodic feedback round). The customer answers
through the portal, presales evaluates; both reports are rendered by `renderDocument` from
`templates/requirement_feedback_*.md.j2`. The process has no service handlers of its own.
"""

from __future__ import annotations

from typing import Any

import flowdesk

KEY = "requirement_feedback"
"""The process key (the BPMN process id)."""

MESSAGE_REQUIREMENTS_DELIVERED = "requirements_delivered"
"""The message order review throws when an opportunity's order is closed without complaint."""


def start(
    engine: flowdesk.Engine,
    *,
    customer_id: str,
    customer_name: str,
    opportunity_id: str,
    account_owner: str,
    order_no: str | None = None,
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start a feedback round on the requirements implemented for an opportunity.

    Args:
        engine: An engine with `bpmn/requirement_feedback.bpmn` deployed.
        customer_id: The customer's id.
        customer_name: The customer's name.
        opportunity_id: The opportunity whose requirements were implemented.
        account_owner: User name of the salesperson responsible for the customer.
        order_no: The order that delivered them, if any.
        business_key: The instance's business key; by default the opportunity id.
        user: Who starts it (recorded in the history).

    Returns:
        The instance, waiting for the customer's feedback.

    Raises:
        NotFound: The process is not deployed.
    """
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "opportunity_id": opportunity_id,
        "account_owner": account_owner,
        "order_no": order_no,
    }
    return engine.start(KEY, variables, business_key=business_key or opportunity_id, user=user)
