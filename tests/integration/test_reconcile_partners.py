"""Reconcile's partner invariants over real stores of a namespace of their own: clean after
debits, credits, a capped consent and a revocation (payout and the read models fed the events
gifting wrote), and each corruption named by the check that guards it."""

import uuid

import pytest

from eventkit.codec import encode
from eventkit.db import create_pool
from infra.__main__ import SERVICES
from schemas.envelope import Envelope
from scripts import reconcile, reconcile_partners
from services.gifting.api import create
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import consume
from tests.support.partners import (
    access_token,
    as_partner,
    consent,
    credit_body,
    debit_body,
    register,
)
from tests.support.wallets import coin_purchased, fund_wallet


@pytest.fixture(scope="module")
async def world(namespace):
    settings = await namespace(f"rp{uuid.uuid4().hex[:4]}")
    db = {s: await create_pool(settings.database_for(s)) for s in SERVICES}
    async with api_client(create, settings) as client:
        await story(client, settings, db)
    yield settings, db
    for pool in db.values():
        await pool.close()


async def story(client, settings, db) -> None:
    shop = await register(client, settings, revenue_share_bp=6667)  # shares round down
    token = await access_token(client, shop)
    for i in range(3):
        fan = new_id("fan")
        await fund_wallet(db["gifting"], fan, 500)
        grant = await consent(client, settings, fan, shop, max_coins=300 if i == 0 else None)
        for coins in (101, 37):
            r = await client.post(
                "/v1/partner/debits",
                json=debit_body(grant["consent_token"], coins),
                headers=as_partner(token),
            )
            assert r.status_code == 201, r.text
        r = await client.post(
            "/v1/partner/credits",
            json=credit_body(grant["consent_token"], 9),
            headers=as_partner(token),
        )
        assert r.status_code == 201, r.text
        if i == 2:
            r = await client.delete(
                f"/v1/partner-consents/{grant['consent_id']}", headers=auth(settings, fan)
            )
            assert r.status_code == 200
    rows = await db["gifting"].fetch("SELECT envelope FROM events ORDER BY position")
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    funded = await db["gifting"].fetch(
        "SELECT user_id, sum(delta)::bigint AS coins FROM wallet_ledger WHERE kind = 'purchase'"
        " GROUP BY user_id"
    )
    envelopes += [coin_purchased(r["user_id"], r["coins"])[0] for r in funded]
    assert await consume(settings, db["payout"], *envelopes) == []
    credited = await db["payout"].fetch("SELECT envelope FROM events ORDER BY position")
    envelopes += [Envelope.model_validate(r["envelope"]) for r in credited]  # DiamondsCredited
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), "t", 0, i) for i, e in enumerate(envelopes)
    ]
    assert await Projector(db["projections"]).apply(batch) == []


async def run_checks(db) -> dict[str, list[str]]:
    checks = {
        **reconcile_partners.CHECKS,
        "diamonds": reconcile.diamonds_match_gifts,
        "ledger": reconcile.wallets_match_their_ledger,
        "read models": reconcile.read_models_match_the_services,
    }
    return {name: (await check(db))[1] for name, check in checks.items()}


async def test_clean_stores_pass_and_each_corruption_is_named(world):
    settings, db = world
    found = await run_checks(db)
    assert {k: v for k, v in found.items() if v} == {}
    g, p = db["gifting"], db["payout"]

    # A debit's ledger entry changed: its event, the ledger and the wallet disagree.
    entry = await g.fetchval(
        "SELECT entry_id FROM wallet_ledger WHERE kind = 'partner_debit' LIMIT 1"
    )
    await g.execute("UPDATE wallet_ledger SET delta = delta - 1 WHERE entry_id = $1", entry)
    found = await run_checks(db)
    assert found["partner operations = their ledger entries = partner_operations"]
    assert found["ledger"]
    await g.execute("UPDATE wallet_ledger SET delta = delta + 1 WHERE entry_id = $1", entry)

    # A consent's use not counted, and a day total counted twice.
    cid = await g.fetchval("SELECT consent_id FROM partner_consents LIMIT 1")
    await g.execute(
        "UPDATE partner_consents SET coins_used = coins_used - 1 WHERE consent_id = $1", cid
    )
    await g.execute("UPDATE partner_days SET coins = coins + 5")
    found = await run_checks(db)
    assert found["consents: coins used = their debits, within max_coins, events agree"]
    assert found["partner day totals = their operations' coins"]
    await g.execute(
        "UPDATE partner_consents SET coins_used = coins_used + 1 WHERE consent_id = $1", cid
    )
    await g.execute("UPDATE partner_days SET coins = coins - 5")

    # A partner credit lost by payout: the partner's diamonds and the per-debit credits disagree.
    row = await p.fetchrow(
        "SELECT source_event_id, creator_id FROM credits WHERE source = 'partner' LIMIT 1"
    )
    await p.execute(
        "UPDATE credits SET diamonds = diamonds - 1 WHERE source_event_id = $1",
        row["source_event_id"],
    )
    await p.execute(
        "UPDATE creators SET earned = earned - 1 WHERE creator_id = $1", row["creator_id"]
    )
    found = await run_checks(db)
    assert found["partner credits = each debit's revenue share x rate"]
    assert found["diamonds"]
    await p.execute(
        "UPDATE credits SET diamonds = diamonds + 1 WHERE source_event_id = $1",
        row["source_event_id"],
    )
    await p.execute(
        "UPDATE creators SET earned = earned + 1 WHERE creator_id = $1", row["creator_id"]
    )

    # A revocation gifting lost: the consent and its events disagree, and so does the read model.
    revoked = await g.fetchval(
        "SELECT consent_id FROM partner_consents WHERE revoked_at IS NOT NULL LIMIT 1"
    )
    at = await g.fetchval("SELECT revoked_at FROM partner_consents WHERE consent_id = $1", revoked)
    await g.execute("UPDATE partner_consents SET revoked_at = NULL WHERE consent_id = $1", revoked)
    found = await run_checks(db)
    assert found["consents: coins used = their debits, within max_coins, events agree"]
    assert found["partner read models agree with gifting"]
    await g.execute(
        "UPDATE partner_consents SET revoked_at = $2 WHERE consent_id = $1", revoked, at
    )
    assert all(not f for f in (await run_checks(db)).values())
