"""Driving the partner API in tests: an admin registers a partner, the partner gets an access
token, a user grants a consent."""

import base64
import uuid

import httpx

from eventkit.settings import Settings
from tests.support.apps import auth, new_id


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def register(
    client: httpx.AsyncClient,
    settings: Settings,
    scopes=("coins:debit", "coins:credit"),
    revenue_share_bp: int = 7000,
    daily_coins: int = 100_000,
) -> dict:
    """A new partner's client, with its secret."""
    r = await client.post(
        "/v1/admin/partner-clients",
        json={
            "partner_id": new_id("shop"),
            "name": "Test Shop",
            "scopes": list(scopes),
            "revenue_share_bp": revenue_share_bp,
            "daily_coins": daily_coins,
        },
        headers=auth(settings, "ops-1", roles=["admin"]),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def access_token(client: httpx.AsyncClient, partner: dict, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    r = await client.post(
        "/oauth/token", data=form, headers=basic(partner["client_id"], partner["client_secret"])
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def consent(
    client: httpx.AsyncClient,
    settings: Settings,
    user: str,
    partner: dict,
    scopes=("coins:debit", "coins:credit"),
    max_coins: int | None = None,
) -> dict:
    body: dict = {"partner_id": partner["partner_id"], "scopes": list(scopes)}
    if max_coins is not None:
        body["max_coins"] = max_coins
    r = await client.post("/v1/partner-consents", json=body, headers=auth(settings, user))
    assert r.status_code == 201, r.text
    return r.json()


def as_partner(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}


def debit_body(consent_token: str, coins: int = 100, item: str = "sword") -> dict:
    return {"consent_token": consent_token, "item_id": item, "title": "A sword", "coins": coins}


def credit_body(consent_token: str, coins: int = 10, reference: str = "quest-1") -> dict:
    return {
        "consent_token": consent_token,
        "reference": reference,
        "reason": "Quest",
        "coins": coins,
    }
