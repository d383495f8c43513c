"""The order review process (订单评审): start helper, service handlers and documents.

`bpmn/order_review.bpmn` takes a customer order from its receipt by sales to a released
production order, a special-order coordination or a returned order (seed 003, 客户订单流程管理
制度). An order starts either here, with `start` (sales registers an order the customer sent),
or by the message `contract_signed` that presales throws when a custom-order contract is
signed; both carry the same variables. The decision table `bpmn/order_routing.dmn` decides
whether the order needs a technical review or goes straight to leadership approval.

The handlers here are the steps the diagram cannot express itself: counting review rounds,
summarising the six reviewers' opinions, and recording production's order change requests.
Documents (registration form, review record, order notification, return record) are rendered
by the shared `renderDocument` service from `templates/order_review_*.md.j2`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import flowdesk
from flowdesk.handlers import HandlerRegistry, ServiceCall

KEY = "order_review"
"""The process key (the BPMN process id)."""

MESSAGE_CONTRACT_SIGNED = "contract_signed"
"""The message presales throws when a contract is signed; it starts an order review."""

REVIEWERS: tuple[tuple[str, str, str], ...] = (
    ("production", "Production", "生产中心"),
    ("production_tech", "Production technology", "生产技术部"),
    ("research", "Research institute", "研究所"),
    ("sales", "Sales", "销售部"),
    ("quality", "Quality", "质量管理"),
    ("signer", "Contract signer", "合同签订人"),
)
"""The technical reviewers: the suffix of their form fields (`opinion_<suffix>`,
`comment_<suffix>`), their English and Chinese names."""

OPINIONS = ("can_meet", "deviation", "cannot_meet")
"""What a reviewer can say: can meet, large technical deviation (special order), cannot meet."""

REVIEW_THRESHOLD_CNY = 500_000
"""Company setting, not a rule of the source: a stock order under this amount without special
technical requirements goes to leadership without a technical review. The regulation (seed
003 §3.1.4, 合同额小于***万元) leaves the amount blank; the value lives in
`bpmn/order_routing.dmn` (`Rule_small_standard_order`), which a company edits to change it."""

MESSAGE_COMPLAINT_RECEIVED = "complaint_received"
"""The message the after-sales visit throws when the customer complains; it starts
*complaint handling* (`flowdesk.processes.complaint_handling`)."""

SERVICE_OPEN_REVIEW = "orderReviewOpenReview"
"""The service name `open_review` is registered under."""

SERVICE_SUMMARISE = "orderReviewSummarise"
"""The service name `summarise_opinions` is registered under."""

SERVICE_RECORD_CHANGE = "orderReviewRecordChange"
"""The service name `record_change` is registered under."""

SERVICE_RECORD_TRIAL_FAILURE = "orderReviewRecordTrialFailure"
"""The service name `record_trial_failure` is registered under."""

SERVICE_WATCH_DELIVERY_DATE = "orderReviewWatchDeliveryDate"
"""The service name `watch_delivery_date` is registered under."""

SERVICE_ALERT_LATE_DELIVERY = "orderReviewAlertLateDelivery"
"""The service name `alert_late_delivery` is registered under."""

SERVICE_BOOK_PAYMENT = "orderReviewBookPayment"
"""The service name `book_payment` is registered under."""


def start(
    engine: flowdesk.Engine,
    *,
    order_no: str,
    customer_id: str,
    customer_name: str,
    amount: int,
    contract_signer: str,
    order_type: str = "custom",
    special_requirements: bool = False,
    stock_pickup: bool = False,
    opportunity_id: str | None = None,
    business_key: str | None = None,
    user: str | None = None,
) -> flowdesk.ProcessInstance:
    """Start an order review for an order sales received (the none start event).

    The instance waits at "Receive order", where sales registers the order's details. The
    variables are those the `contract_signed` message carries, so both starts run the same
    flow.

    Args:
        engine: An engine with `bpmn/order_review.bpmn` and `bpmn/order_routing.dmn` deployed.
        order_no: The order's number.
        customer_id: The customer's id.
        customer_name: The customer's name.
        amount: The order amount in CNY (whole yuan).
        contract_signer: User name of whoever signed the contract; they review the order.
        order_type: `"stock"` (库存订单) or `"custom"` (定制订单).
        special_requirements: Whether the order has special technical requirements.
        stock_pickup: Whether the customer picks the goods up from stock (库存直接提货).
        opportunity_id: The presales opportunity the order comes from, if any.
        business_key: The instance's business key; the order number when not given.
        user: Who starts the instance (recorded in the history).

    Returns:
        The started instance, waiting for sales to receive the order.

    Raises:
        ValueError: `order_type` is neither "stock" nor "custom", or `amount` is negative.
        flowdesk.NotFound: The process is not deployed.
    """
    if order_type not in ("stock", "custom"):
        raise ValueError(f"order_type must be 'stock' or 'custom', not {order_type!r}")
    if amount < 0:
        raise ValueError("amount must not be negative")
    variables: dict[str, Any] = {
        "order_no": order_no,
        "customer_id": customer_id,
        "customer_name": customer_name,
        "order_type": order_type,
        "amount": amount,
        "special_requirements": special_requirements,
        "stock_pickup": stock_pickup,
        "contract_signer": contract_signer,
        "opportunity_id": opportunity_id,
    }
    return engine.start(KEY, variables, business_key=business_key or order_no, user=user)


def open_review(call: ServiceCall) -> dict[str, Any]:
    """Open a technical review round: count it, so documents and tasks can name the round."""
    return {"review_round": int(call.variables.get("review_round") or 0) + 1}


def summarise_opinions(call: ServiceCall) -> dict[str, Any]:
    """List the six reviewers' opinions and suggest the review result.

    Any "cannot meet" suggests *cannot meet*, else any "large technical deviation" suggests a
    *special order*, else *can meet*. The order center decides; this only prepares it.
    """
    variables = call.variables
    opinions = [
        {
            "reviewer": suffix,
            "role_name": f"{english} ({chinese})",
            "opinion": variables.get(f"opinion_{suffix}"),
            "comment": variables.get(f"comment_{suffix}") or "",
        }
        for suffix, english, chinese in REVIEWERS
    ]
    given = {opinion["opinion"] for opinion in opinions}
    if "cannot_meet" in given:
        suggested = "cannot_meet"
    elif "deviation" in given:
        suggested = "special_order"
    else:
        suggested = "can_meet"
    return {"review_opinions": opinions, "suggested_result": suggested}


def record_change(call: ServiceCall) -> dict[str, Any]:
    """Record production's order change request (申请变更订单) for the next review."""
    variables = call.variables
    change = {
        "review_round": variables.get("review_round"),
        "batch_no": variables.get("batch_no"),
        "reason": variables.get("feedback_comment") or "",
        "requested_at": call.now.isoformat(),
    }
    return {"change_requests": [*variables.get("change_requests", []), change]}


def record_trial_failure(call: ServiceCall) -> dict[str, Any]:
    """Record a failed trial (试制不合格): which trial, and its result, for the re-adjustment.

    The coordination goes back to adjusting formula and process structure (seed 003 §3.2.1),
    which the chief engineer signs again (§3.2.2).
    """
    variables = call.variables
    failed = next(
        (
            key
            for key in ("industrial", "final", "small")
            if variables.get(f"{key}_trial_passed") is False
        ),
        "small",
    )
    failure = {
        "trial": failed,
        "result": variables.get(f"{failed}_trial_result") or "",
        "recorded_at": call.now.isoformat(),
    }
    reset = {f"{key}_trial_passed": None for key in ("small", "final", "industrial")}
    return {**reset, "trial_failures": [*variables.get("trial_failures", []), failure]}


def delivery_due(delivery_date: str | date, now: datetime) -> datetime:
    """When an order due on `delivery_date` is late: the start of the next day, in the time
    zone of `now` (the engine's clock)."""
    day = (
        delivery_date if isinstance(delivery_date, date) else date.fromisoformat(delivery_date[:10])
    )
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=now.tzinfo)


def watch_delivery_date(call: ServiceCall) -> dict[str, Any]:
    """`orderReviewWatchDeliveryDate`: the moment the late-delivery timer falls due (交期监控).

    It is an ISO text the non-interrupting boundary timer on production and delivery reads as
    `timeDate`: if the order is not delivered by the end of its delivery date, sales and the
    order center are alerted.
    """
    return {"delivery_due": delivery_due(call.variables["delivery_date"], call.now).isoformat()}


def alert_late_delivery(call: ServiceCall) -> dict[str, Any]:
    """`orderReviewAlertLateDelivery`: note a late-delivery alert in `notifications`, addressed
    to the contract signer (sales) and the order center.

    An application that sends mail registers its own handler under the same name.
    """
    variables = call.variables
    notice = {
        "kind": "late_delivery",
        "to": [variables.get("contract_signer"), "order_center"],
        "at": call.now.isoformat(),
        "text": (
            f"交期预警: order {variables['order_no']} of {variables['customer_name']} was due "
            f"on {variables['delivery_date']} and is not delivered"
        ),
    }
    return {
        "delivery_late": True,
        "notifications": [*variables.get("notifications", []), notice],
    }


def book_payment(call: ServiceCall) -> dict[str, Any]:
    """`orderReviewBookPayment`: add the payment finance recorded (回款方式、回款时间、回款金额、
    经手人、账号信息) to `payments` and compute `amount_paid` and `amount_outstanding`."""
    variables = call.variables
    payment = {
        "method": variables["payment_method"],
        "date": variables["payment_date"],
        "amount": int(variables["payment_amount"]),
        "handler": variables["payment_handler"],
        "account": variables.get("payment_account") or "",
    }
    payments = [*variables.get("payments", []), payment]
    paid = sum(int(p["amount"]) for p in payments)
    return {
        "payments": payments,
        "amount_paid": paid,
        "amount_outstanding": max(int(variables["amount"]) - paid, 0),
    }


def register(registry: HandlerRegistry) -> None:
    """Register the handlers this process's service tasks need."""
    registry.register_service(SERVICE_OPEN_REVIEW, open_review)
    registry.register_service(SERVICE_SUMMARISE, summarise_opinions)
    registry.register_service(SERVICE_RECORD_CHANGE, record_change)
    registry.register_service(SERVICE_RECORD_TRIAL_FAILURE, record_trial_failure)
    registry.register_service(SERVICE_WATCH_DELIVERY_DATE, watch_delivery_date)
    registry.register_service(SERVICE_ALERT_LATE_DELIVERY, alert_late_delivery)
    registry.register_service(SERVICE_BOOK_PAYMENT, book_payment)
