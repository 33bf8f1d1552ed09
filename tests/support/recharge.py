"""The recharge app in-process with test settings, a clock tests can move, and helpers that
play the payment provider (signed notifications) and read what recharge recorded."""

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from eventkit.db import create_pool
from eventkit.settings import Settings
from eventkit.webhooks import SIGNATURE_HEADER, sign
from services.gifting.api import create as create_gifting
from services.recharge.api import create
from services.recharge.settings import RechargeSettings
from tests.support.apps import api_client, auth

SECRET = "test-webhook-secret-0123456789abcdef-0123"


class Clock:
    def __init__(self):
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@dataclass
class Recharge:
    settings: Settings
    limits: RechargeSettings
    client: httpx.AsyncClient
    gifting: httpx.AsyncClient
    app: object
    clock: Clock
    pools: dict


def test_settings(**over) -> RechargeSettings:
    return RechargeSettings(
        **{
            "webhook_secret": SECRET,
            "sandbox_delay_seconds": 0,
            "sandbox_retry_seconds": 30,
            "payment_timeout_seconds": 120,
            "max_purchases_per_hour": 5,
            "max_spend_per_day_minor": 100_000,
            **over,
        }
    )


@asynccontextmanager
async def recharge_app(settings: Settings, **over):
    local = test_settings(**over)
    app = create(settings, local)
    app.state.clock = clock = Clock()
    pools = {
        s: await create_pool(settings.database_for(s), max_size=10)
        for s in ("recharge", "gifting", "payout", "projections")
    }
    try:
        async with (
            app.router.lifespan_context(app),
            api_client(create_gifting, settings) as gifting,
        ):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Recharge(settings, local, client, gifting, app, clock, pools)
                await app.state.provider.drain()
    finally:
        for pool in pools.values():
            await pool.close()


async def settle(rc) -> None:
    """Waits for the sandbox's scheduled webhook deliveries."""
    await rc.app.state.provider.drain()


def notification(purchase: dict, kind: str, reason_code: str | None = None) -> bytes:
    """A provider notification about `purchase` (as POST /v1/purchases answered it)."""
    return orjson.dumps(
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": kind,
            "provider_txn_id": purchase["provider_txn_id"],
            "purchase_id": purchase["purchase_id"],
            "amount": purchase["price"],
            "reason_code": reason_code,
            "detail": None,
            "created_at": datetime.now(UTC).isoformat(),
        }
    )


async def post_webhook(rc, body: bytes, secret: str = SECRET) -> httpx.Response:
    return await rc.client.post(
        "/v1/webhooks/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: sign(secret, body), "content-type": "application/json"},
    )


def problem(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


async def events_of(rc, purchase_id: str) -> list[dict]:
    rows = await rc.pools["recharge"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version",
        f"purchase-{purchase_id}",
    )
    return [r["envelope"] for r in rows]


async def purchase_rows(rc, user: str) -> list[dict]:
    return [
        dict(r)
        for r in await rc.pools["recharge"].fetch(
            "SELECT * FROM purchases WHERE user_id = $1 ORDER BY created_at", user
        )
    ]


async def create_campaign(rc, **over) -> dict:
    """A coupon campaign open from yesterday for 30 days (POST /v1/admin/campaigns as an
    admin), `over` changing any field of the body; its 201 answer."""
    now = datetime.now(UTC)
    body = {
        "name": "test campaign",
        "kind": "coupon",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "max_redemptions": 100,
        "per_user_limit": 1,
        "bonus_coins": 50,
        **over,
    }
    r = await rc.client.post(
        "/v1/admin/campaigns", json=body, headers=auth(rc.settings, "ops-1", roles=["admin"])
    )
    assert r.status_code == 201, r.text
    return r.json()
