"""An unlock storm through the gifting API (in-process ASGI, real PostgreSQL): many unlocks
fired at once by several fans, each asking for more than their balance covers, with the same
item asked for several times, replayed keys, refusals of other kinds in between; then gifts and
unlocks from the same fans at once."""

import asyncio
import random
import uuid
from collections import defaultdict

import pytest

from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet

FANS, ITEMS, PRICE = 30, 10, 100


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def list_items(client, settings, creator: str, n: int, price: int) -> list[str]:
    items = []
    for i in range(n):
        item = new_id("video")
        r = await client.put(
            "/v1/items",
            json={"item_id": item, "title": f"clip {i}", "coins": price},
            headers=auth(settings, creator, roles=["creator"]),
        )
        assert r.status_code == 201, r.text
        items.append(item)
    return items


def kind(r) -> str:
    return r.json()["type"].rsplit("/", 1)[1]


async def test_unlock_storm_accepts_the_affordable_prefix_and_each_pair_once(
    client, prepared, pools
):
    creator = new_id("star")
    items = await list_items(client, prepared, creator, ITEMS, PRICE)
    fans = [new_id("fan") for _ in range(FANS)]
    affordable = {fan: 2 + i % 6 for i, fan in enumerate(fans)}  # 2..7 of the 10 items
    funded = {fan: PRICE * affordable[fan] + PRICE // 2 for fan in fans}
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, funded[fan])

    # Each fan: every item once, the first item twice more under other keys, one key sent
    # three times, a stale price and an unknown item (refused alone).
    sends: list[tuple[str, str, dict]] = []
    for fan in fans:
        sends += [(fan, str(uuid.uuid4()), {"item_id": i, "coins": PRICE}) for i in items]
        sends += [(fan, str(uuid.uuid4()), {"item_id": items[0], "coins": PRICE}) for _ in "ab"]
        replayed = str(uuid.uuid4())
        sends += [(fan, replayed, {"item_id": items[1], "coins": PRICE})] * 3
        sends += [(fan, str(uuid.uuid4()), {"item_id": items[2], "coins": PRICE + 1})]
        sends += [(fan, str(uuid.uuid4()), {"item_id": new_id("nope"), "coins": PRICE})]
    random.Random(7).shuffle(sends)
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post("/v1/unlocks", json=body, headers=auth(prepared, fan, key))
                for fan, key, body in sends
            )
        ),
        timeout=120,
    )

    assert {r.status_code for r in responses} <= {200, 201, 404, 409}
    problems = [r for r in responses if r.status_code in (404, 409)]
    assert all(r.headers["content-type"] == "application/problem+json" for r in problems)
    assert {kind(r) for r in problems} <= {"item-not-found", "price-changed", "insufficient-coins"}
    db = pools["gifting"]
    by_fan: dict[str, list] = defaultdict(list)
    for (fan, key, body), r in zip(sends, responses, strict=True):
        by_fan[fan].append((key, body, r))
    for fan in fans:
        sent = by_fan[fan]
        accepted = [  # a replayed 201 is the stored answer of one of these
            r.json()
            for _, _, r in sent
            if r.status_code == 201 and r.headers.get("Idempotent-Replayed") != "true"
        ]
        # exactly what the balance affords, each debit against the balance the previous left
        assert len(accepted) == affordable[fan], fan
        chain = sorted((u["balance_after"] for u in accepted), reverse=True)
        assert chain == [funded[fan] - PRICE * n for n in range(1, affordable[fan] + 1)]
        # one unlock per (fan, item): every 200 is the pair's one 201, charged nothing more
        first = {u["item_id"]: u for u in accepted}
        assert len(first) == len(accepted)
        for _, body, r in sent:
            if r.status_code == 200:
                again = r.json()
                assert (
                    again["already_unlocked"]
                    and again["unlock_id"] == (first[body["item_id"]]["unlock_id"])
                )
        # a stale price is refused alone (or answered with the pair's unlock, if one came
        # first, as that answer always has been); an unknown item is refused alone
        for _, b, r in sent:
            if b["coins"] != PRICE:
                assert r.status_code == 200 or kind(r) == "price-changed"
            if b["item_id"] not in items:
                assert kind(r) == "item-not-found"
        # one key sent three times: one answer, replayed for the others when stored
        same_key = [r for k, _, r in sent if sum(k == k2 for k2, _, _ in sent) == 3]
        assert len(same_key) == 3 and len({r.status_code for r in same_key}) == 1
        if same_key[0].status_code in (200, 201):
            assert len({r.json()["unlock_id"] for r in same_key}) == 1
            assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in same_key) == 2
        else:
            assert {kind(r) for r in same_key} == {"insufficient-coins"}

        # the ledger, the unlock rows, the events and the outbox match the 201s one for one
        rows = await db.fetch(
            "SELECT u.unlock_id, u.item_id, u.coins, u.balance_after, l.delta,"
            " l.balance_after AS ledger_after, e.envelope, o.key AS outbox_key"
            " FROM unlocks u JOIN wallet_ledger l USING (event_id)"
            " JOIN events e USING (event_id) JOIN outbox o USING (event_id)"
            " WHERE u.user_id = $1 ORDER BY e.version",
            fan,
        )
        assert sorted(
            (str(r["unlock_id"]), r["item_id"], r["coins"], r["balance_after"]) for r in rows
        ) == sorted(
            (u["unlock_id"], u["item_id"], u["coins"], u["balance_after"]) for u in accepted
        )
        assert [r["ledger_after"] for r in rows] == chain  # events follow the wallet's versions
        assert all(
            -r["delta"] == r["coins"]
            and r["outbox_key"] == f"wallet-{fan}"
            and r["envelope"]["data"]["unlock_id"] == str(r["unlock_id"])
            and r["envelope"]["data"]["owner_id"] == creator
            and r["envelope"]["data"]["balance_after"] == r["balance_after"]
            for r in rows
        )
        assert await db.fetchval(
            "SELECT count(*) FROM wallet_ledger WHERE user_id = $1 AND kind = 'unlock'", fan
        ) == len(accepted)
        balance = await db.fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan)
        assert balance == funded[fan] - PRICE * affordable[fan] == PRICE // 2

    # the keys answered are stored with their answers; the refused ones were released
    answered = {
        (fan, key): r.status_code
        for (fan, key, _), r in zip(sends, responses, strict=True)
        if r.status_code in (200, 201)
    }
    stored = await db.fetch(
        "SELECT caller, key, status_code FROM idempotency_keys WHERE caller = ANY($1::text[])",
        fans,
    )
    assert {(s["caller"], s["key"]): s["status_code"] for s in stored} == answered
    # group commit: far fewer transactions than unlocks
    transactions = await db.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM unlocks WHERE user_id = ANY($1::text[])", fans
    )
    assert transactions < sum(affordable.values()) / 4, transactions


async def test_gifts_and_unlocks_from_the_same_fans_at_once_never_overdraw_or_deadlock(
    client, prepared, pools
):
    creator = new_id("star")
    items = await list_items(client, prepared, creator, 6, 40)
    fans = [new_id("fan") for _ in range(20)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 200)
    gift = {
        "creator_id": creator,
        "context": {"kind": "live", "id": "s"},
        "gift_code": "rose",
        "quantity": 15,
    }
    calls = []
    for fan in fans:
        calls += [("gift", fan, gift) for _ in range(8)]  # 120 coins asked
        calls += [("unlock", fan, {"item_id": i, "coins": 40}) for i in items]  # 240 asked
    random.Random(11).shuffle(calls)
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post(
                    "/v1/gifts" if what == "gift" else "/v1/unlocks",
                    json=body,
                    headers=auth(prepared, fan),
                )
                for what, fan, body in calls
            )
        ),
        timeout=120,
    )
    assert {r.status_code for r in responses} <= {201, 409}, {r.status_code for r in responses}
    assert all(kind(r) == "insufficient-coins" for r in responses if r.status_code == 409)
    db = pools["gifting"]
    spent: dict[str, list[int]] = defaultdict(list)
    refused: dict[str, list[int]] = defaultdict(list)  # the coins each refusal asked for
    for (what, fan, body), r in zip(calls, responses, strict=True):
        if r.status_code == 201:
            spent[fan].append(r.json()["balance_after"])
        else:
            refused[fan].append(body["quantity"] if what == "gift" else body["coins"])
    for fan in fans:
        ledger = await db.fetch(
            "SELECT delta, balance_after FROM wallet_ledger WHERE user_id = $1 ORDER BY entry_id",
            fan,
        )
        # funding, then each spend against the balance the previous one left, never below 0
        running = 0
        for e in ledger:
            running += e["delta"]
            assert e["balance_after"] == running >= 0
        assert sorted(e["balance_after"] for e in ledger[1:]) == sorted(spent[fan])
        assert all(running < coins for coins in refused[fan])  # nothing affordable refused
        assert await db.fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan) == running
        assert await db.fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1"
            " AND event_type IN ('GiftSent', 'ContentUnlocked')",
            f"wallet-{fan}",
        ) == len(spent[fan])
