"""Partner platforms in the chaos load (docs/partners.md), for scripts/chaos.py to run.

- `partner_load(c, gifting, fans, seed, plan, deadline)`, beside the load's other loops: an
  admin registers one partner (a daily limit the load reaches now and then), half the fans
  grant it a consent (one of them capped), then until `deadline` the partner debits and
  credits those fans, each operation sent with one Idempotency-Key until answered (through
  faults: a lost answer replays), its access token renewed when refused as expired;
- `verify_acknowledged(settings, outcome)`, after chaos.verify: every acknowledged partner
  operation is one partner_operations row and one wallet_ledger entry of its coins.

reconcile (scripts/reconcile_partners.py, in reconcile.CHECKS) checks the rest after the run:
each operation once in the ledger, the partner's revenue share credited by payout once, the
consents' use within their caps, the day totals, the read models.
"""

import asyncio
import random
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

from eventkit.auth import mint_token
from eventkit.roles import AUDITOR
from eventkit.settings import Settings

if TYPE_CHECKING:
    from scripts.chaos import Client, Outcome

DAILY_COINS = 20_000  # a run's debits and credits pass it: partner-limit-daily refusals


async def _send(
    c: "Client", method: str, url: str, body: dict | None, headers: dict
) -> httpx.Response | None:
    """One request, retried with the same headers (so the same Idempotency-Key) until answered
    below 500; None when it never was."""
    for _ in range(120):
        try:
            r = await c.http.request(method, url, json=body, headers=headers)
            if r.status_code < 500:
                return r
        except httpx.HTTPError:
            pass
        c.outcome.retry_times.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.5)
    return None


async def register(c: "Client", gifting: str, partner_id: str) -> dict | None:
    """The partner's client with a usable secret: a lost first answer replays without the
    secret, so the secret is then rotated (by version: a retried rotation rotates once)."""
    admin = {"Authorization": f"Bearer {mint_token(c.settings, 'chaos-ops', roles=['admin'])}"}
    body = {
        "partner_id": partner_id,
        "name": "Chaos Shop",
        "scopes": ["coins:debit", "coins:credit"],
        "revenue_share_bp": 6500,
        "daily_coins": DAILY_COINS,
    }
    r = await _send(
        c,
        "POST",
        f"{gifting}/v1/admin/partner-clients",
        body,
        {**admin, "Idempotency-Key": partner_id},
    )
    if r is None or r.status_code != 201:
        c.outcome.discrepancies.append(f"partner not registered: {r and r.text}")
        return None
    client = r.json()
    while client["client_secret"] is None:
        r = await _send(
            c,
            "POST",
            f"{gifting}/v1/admin/partner-clients/{partner_id}/rotate",
            {"secret_version": client["secret_version"]},
            {**admin, "Idempotency-Key": str(uuid.uuid4())},
        )
        if r is None or r.status_code not in (200, 409):
            c.outcome.discrepancies.append(f"partner secret not rotated: {r and r.text}")
            return None
        if r.status_code == 200:
            client = r.json()
        else:
            client["secret_version"] = r.json()["secret_version"]
    return client


async def grant(
    c: "Client", gifting: str, fan: str, partner_id: str, cap: int | None
) -> str | None:
    """The fan's consent token (a replay answers none: the fan grants again)."""
    body: dict[str, Any] = {"partner_id": partner_id, "scopes": ["coins:debit", "coins:credit"]}
    if cap:
        body["max_coins"] = cap
    for _ in range(5):
        headers = {
            "Authorization": f"Bearer {mint_token(c.settings, fan)}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        r = await _send(c, "POST", f"{gifting}/v1/partner-consents", body, headers)
        if r is None or r.status_code != 201:
            c.outcome.discrepancies.append(f"consent of {fan} refused: {r and r.text}")
            return None
        if r.json()["consent_token"]:
            return r.json()["consent_token"]
    return None


class Tokens:
    """The partner's access token, renewed when missing or refused as expired or rotated."""

    def __init__(self, c: "Client", gifting: str, client: dict):
        self.c, self.gifting, self.client = c, gifting, client
        self.token: str | None = None

    async def get(self, fresh: bool = False) -> str | None:
        if self.token and not fresh:
            return self.token
        for _ in range(120):
            try:
                r = await self.c.http.post(
                    f"{self.gifting}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.client["client_id"], self.client["client_secret"]),
                )
                if r.status_code == 200:
                    self.token = r.json()["access_token"]
                    return self.token
                if r.status_code < 500:
                    self.c.outcome.discrepancies.append(f"partner token refused: {r.text}")
                    return None
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        return None


async def operate(c: "Client", tokens: Tokens, url: str, kind: str, user: str, body: dict) -> None:
    """One debit or credit, at least once with one Idempotency-Key; acknowledged or counted as
    a refusal, as chaos.Client.command does."""
    key = str(uuid.uuid4())
    for fresh in (False, True):
        token = await tokens.get(fresh)
        if token is None:
            return
        r = await _send(
            c, "POST", url, body, {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        )
        if r is None:
            return
        problem = r.json().get("type", "").rsplit("/", 1)[-1] if r.status_code >= 300 else ""
        if problem in ("partner-token-expired", "partner-secret-rotated"):
            continue  # the same key again with a new token: still one operation
        if r.status_code < 300:
            c.outcome.ack(kind, {"user": user, **r.json()})
        else:
            c.outcome.refused += 1
            c.outcome.refusals[f"{kind} {r.status_code} {problem}"] += 1
        return


async def partner_load(
    c: "Client", gifting: str, fans: list[str], seed: int, plan: random.Random, deadline: float
) -> None:
    partner_id = f"partner-{seed}-{uuid.uuid4().hex[:6]}"
    client = await register(c, gifting, partner_id)
    if client is None:
        return
    consents: dict[str, str] = {}
    for i, fan in enumerate(fans[: max(2, len(fans) // 2)]):
        token = await grant(c, gifting, fan, partner_id, cap=3000 if i == 0 else None)
        if token:
            consents[fan] = token
    tokens = Tokens(c, gifting, client)
    loop = asyncio.get_running_loop()
    while consents and loop.time() < deadline:
        fan = plan.choice(sorted(consents))
        if plan.random() < 0.7:
            body = {
                "consent_token": consents[fan],
                "item_id": f"chaos-item-{plan.randint(1, 5)}",
                "title": "Chaos item",
                "coins": plan.randint(10, 400),
            }
            await operate(c, tokens, f"{gifting}/v1/partner/debits", "partner debit", fan, body)
        else:
            body = {
                "consent_token": consents[fan],
                "reference": f"quest-{uuid.uuid4().hex[:8]}",
                "reason": "Chaos quest",
                "coins": plan.randint(5, 100),
            }
            await operate(c, tokens, f"{gifting}/v1/partner/credits", "partner credit", fan, body)
        await asyncio.sleep(plan.uniform(0.05, 0.3))


async def verify_acknowledged(settings: Settings, outcome: "Outcome") -> None:
    acked = [
        a
        for kind in ("partner debit", "partner credit")
        for a in outcome.acknowledged.get(kind, [])
    ]
    if not acked:
        return
    db = await asyncpg.connect(settings.database_for("gifting", AUDITOR))
    try:
        rows = await db.fetch(
            "SELECT o.operation_id::text AS id, o.coins, count(l.entry_id) AS entries,"
            " coalesce(sum(abs(l.delta)), 0)::bigint AS ledger_coins"
            " FROM partner_operations o LEFT JOIN wallet_ledger l USING (event_id)"
            " WHERE o.operation_id = ANY($1::uuid[]) GROUP BY o.operation_id, o.coins",
            [a["operation_id"] for a in acked],
        )
    finally:
        await db.close()
    found = {r["id"]: r for r in rows}
    for a in acked:
        r = found.get(a["operation_id"])
        if r is None:
            outcome.discrepancies.append(
                f"acknowledged partner {a['kind']} {a['operation_id']} lost"
            )
        elif (r["entries"], r["coins"], r["ledger_coins"]) != (1, a["coins"], a["coins"]):
            outcome.discrepancies.append(
                f"partner {a['kind']} {a['operation_id']}: {r['entries']} ledger entries of"
                f" {r['ledger_coins']} coins, acknowledged {a['coins']}"
            )
