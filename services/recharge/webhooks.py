"""Payment-provider webhooks. The signature (HMAC-SHA256 over the raw body, shared secret from
RechargeSettings) is checked before anything is parsed, so a forged or altered notification
changes nothing. A verified one is applied in one transaction (payments.apply_notification):
duplicates, replays and reordered deliveries are harmless. Any non-2xx answer makes the
provider redeliver later."""

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict

from eventkit import problems
from eventkit.deps import ClockDep, PoolDep
from eventkit.webhooks import SIGNATURE_HEADER, verified
from services.recharge.bootstrap import RechargeSettingsDep
from services.recharge.errors import (
    BadSignature,
    BadWebhook,
    NotYetConfirmed,
    PurchaseNotFound,
    WebhookMismatch,
)
from services.recharge.payments import apply_notification
from services.recharge.provider import PaymentNotification

router = APIRouter(prefix="/v1/webhooks", tags=["payment provider"])


def _body_schema() -> dict:
    """PaymentNotification for the OpenAPI document (the route reads the raw body itself, to
    check the signature first); Money is already among the document's components."""
    schema = PaymentNotification.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


class WebhookAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "purchase_id": "6f1c3a52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "status": "confirmed",
                    "applied": True,
                }
            ]
        }
    )

    purchase_id: str
    status: str
    applied: bool


@router.post(
    "/sandbox",
    summary="Payment notification from the sandbox provider (signed)",
    responses=problems.problem_responses(
        BadSignature, BadWebhook, WebhookMismatch, PurchaseNotFound, NotYetConfirmed
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _body_schema(),
                    "example": PaymentNotification.model_json_schema()["examples"][0],
                }
            },
        }
    },
)
async def sandbox_webhook(
    request: Request,
    pool: PoolDep,
    now: ClockDep,
    local: RechargeSettingsDep,
    signature: str | None = Header(
        default=None, alias=SIGNATURE_HEADER, description="sha256=<hex HMAC-SHA256 of the raw body>"
    ),
) -> WebhookAnswer:
    """`payment.succeeded` confirms a pending purchase (CoinPurchased), `payment.declined`
    fails it (PurchaseFailed), `payment.reversed` (refund or chargeback, with a reason code)
    claws a confirmed one back (CoinsClawedBack; fraud codes also ban buying). Answers the
    purchase's status and whether this delivery changed it; a reversal that overtakes its
    payment's confirmation gets 409 and is applied on redelivery."""
    notification = verified(
        local.webhook_secret,
        await request.body(),
        signature,
        PaymentNotification,
        BadSignature,
        BadWebhook,
    )
    async with pool.acquire() as conn, conn.transaction():
        status, applied = await apply_notification(conn, "sandbox", notification, now)
    return WebhookAnswer(purchase_id=str(notification.purchase_id), status=status, applied=applied)
