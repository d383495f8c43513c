"""The presales process (项目售前全流程管理): from first customer contact to a signed contract.

`bpmn/presales.bpmn` files a new customer with the market department within 5 working days
(客户备案: a reminder after 3, escalation to the sales manager after 5), runs market research,
calls *demand confirmation* for the requirement list, designs the solution (reviewed in
parallel by product, technology and operations), prepares a quotation whose approval level the
DMN table `quotation_approval` decides from the discount against the company minimum discount
(below it: the market manager, then finance), negotiates (loops back to the solution or the
price, or a lost end), has legal and finance review the contract and, once it is signed,
throws the message `contract_signed` that starts *order review*.

This module holds what the diagram cannot: `start`, the service handlers the model names
(`presalesFilingDeadlines`, `presalesFilingReminder`, `presalesQuotationFigures`,
`presalesRegisterContract`) and `register`. Its documents are rendered by `renderDocument`
from `templates/presales_*.md.j2`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall
from flowdesk.processes import calendar, customers

KEY = "presales"
"""The process key (the BPMN process id)."""

FILING_REMINDER_WORKING_DAYS = 3
"""Company setting: working days after first contact when the account owner is reminded to
file the customer. The source has the market staff urge late filers (seed 003 1.8.2: 经市场管理
人员多次督促); the reminder before the 5-day deadline is that urging, and 3 days is the
company's choice, not the source's."""

FILING_DEADLINE_WORKING_DAYS = 5
"""Working days within which a new customer must be filed (须在5个工作日内备案)."""

COMPANY_MINIMUM_DISCOUNT = 85
"""The company's minimum discount (公司限定的最低折扣) as a percent of list price: 八五折."""

CUSTOMER_CATEGORIES: dict[str, str] = {
    "target": "目标客户",
    "general": "一般客户",
    "key": "重点客户",
    "potential": "潜在客户",
}
"""The four customer categories of the customer management rules (客户界定)."""


def start(
    engine: flowdesk.Engine,
    *,
    customer_name: str,
    opportunity_title: str,
    account_owner: str,
    customer_id: str | None = None,
    opportunity_id: str | None = None,
    minimum_discount: int = COMPANY_MINIMUM_DISCOUNT,
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start a presales opportunity after a first contact with a customer.

    Args:
        engine: An engine on which `bpmn/presales.bpmn` (with `quotation_approval.dmn` and
            the demand confirmation process) is deployed.
        customer_name: The customer's name.
        opportunity_title: What the customer may buy, in a few words.
        account_owner: The salesperson (user name) who met the customer; they fill in the
            customer information sheet, negotiate and sign.
        customer_id: The customer's archive number if the customer is already filed; `None`
            for a new customer, which the process files with the market department first.
        opportunity_id: The opportunity's number; by default the business key, or a new
            `OPP-...` number.
        minimum_discount: The company minimum discount in percent of the list price
            (85 = 八五折); quotations below it need approval.
        business_key: The instance's business key; by default the opportunity id.
        user: Who starts it (recorded in the history); by default the account owner.

    Returns:
        The instance, waiting at the customer information sheet (new customer) or at the
        market research.

    Raises:
        NotFound: The presales process is not deployed.
    """
    opportunity = opportunity_id or business_key or f"OPP-{uuid.uuid4().hex[:8].upper()}"
    variables: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "opportunity_id": opportunity,
        "opportunity_title": opportunity_title,
        "account_owner": account_owner,
        "minimum_discount": minimum_discount,
    }
    return engine.start(
        KEY,
        variables,
        business_key=business_key or opportunity,
        user=user or account_owner,
    )


def filing_deadlines(call: ServiceCall) -> dict[str, Any]:
    """`presalesFilingDeadlines`: the reminder and the filing deadline, in working days.

    Both are ISO texts the boundary timers of the customer information sheet read as
    `timeDate`.
    """
    return {
        "first_contact_at": call.now.isoformat(),
        "filing_reminder_due": calendar.add_working_days(
            call.now, FILING_REMINDER_WORKING_DAYS
        ).isoformat(),
        "filing_due": calendar.add_working_days(call.now, FILING_DEADLINE_WORKING_DAYS).isoformat(),
    }


def filing_reminder(call: ServiceCall) -> dict[str, Any]:
    """`presalesFilingReminder`: note a reminder to the account owner in `notifications`.

    An application that sends mail registers its own handler under the same name.
    """
    notice = {
        "kind": "filing_reminder",
        "to": call.variables["account_owner"],
        "at": call.now.isoformat(),
        "text": (
            f"请尽快备案: customer {call.variables['customer_name']} must be filed with the "
            f"market department by {call.variables['filing_due']}"
        ),
    }
    return {"notifications": [*call.variables.get("notifications", []), notice]}


def quotation_figures(call: ServiceCall) -> dict[str, Any]:
    """`presalesQuotationFigures`: the quoted amount and a new quotation number.

    The amount is the list price at the discount (a percent of the list price), rounded to
    the yuan; each revision of the quotation gets the next number.
    """
    variables = call.variables
    revision = int(variables.get("quotation_revision", 0)) + 1
    return {
        "amount": quoted_amount(variables["list_price"], variables["discount"]),
        "quotation_revision": revision,
        "quotation_no": f"{variables['opportunity_id']}-Q{revision}",
    }


def quoted_amount(list_price: int, discount: int) -> int:
    """`list_price` at `discount` percent of it, rounded half up to the yuan."""
    return (list_price * discount + 50) // 100


def register_contract(call: ServiceCall) -> dict[str, Any]:
    """`presalesRegisterContract`: the order number and signer the order review needs.

    The signer is the customer's owner now (its master record), else the account owner.
    """
    variables = call.variables
    signer = customers.CustomerDirectory().owner(
        variables.get("customer_id"), variables["account_owner"]
    )
    return {
        "order_no": f"SO-{variables['opportunity_id']}",
        "contract_signer": signer,
        "contract_registered_at": call.now.isoformat(),
    }


def register(registry: HandlerRegistry) -> None:
    """Register the handlers this process's service tasks need."""
    services: Mapping[str, Any] = {
        "presalesFilingDeadlines": filing_deadlines,
        "presalesFilingReminder": filing_reminder,
        "presalesQuotationFigures": quotation_figures,
        "presalesRegisterContract": register_contract,
    }
    for name, handler in services.items():
        registry.register_service(name, handler)
