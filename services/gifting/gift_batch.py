"""A batch of gifts, start to end: claim the keys, lock and read (gift_store), decide
(gift_decide, pure), build the events, write everything in one statement, commit.

Each command gets its own outcome: accepted (201 and its body), a replay of the answer stored
for its key, or the refusal it earned. A refusal changes nothing (its key is released, so a
retry is decided afresh); nothing of the batch is visible until its one commit.
"""

from datetime import timedelta

import asyncpg

from eventkit.codec import new_envelope
from eventkit.group_commit import GroupCommit
from eventkit.problems import DomainError
from policy.coin_value import value_of
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.gifting import GiftContext, GiftSentV2, Recipient
from services.gifting import (
    fan_levels_store,
    gift_store,
    goals_store,
    lots,
    spend_batch,
    spend_store,
)
from services.gifting.catalog import GiftCatalog, load_catalog
from services.gifting.gift_decide import (
    Accepted,
    Decision,
    GiftCommand,
    Replay,
    decide,
    final_combos,
    final_wallets,
)
from services.gifting.gift_store import GiftRecord
from services.gifting.spend_decide import Outcome, StoredAnswer, replayed

SOURCE = "/coinstream/gifting"


def batcher(pool: asyncpg.Pool) -> GroupCommit[GiftCommand, Outcome]:
    return spend_batch.batcher(pool, run_batch)


async def run_batch(pool: asyncpg.Pool, commands: list[GiftCommand]) -> list[Outcome]:
    catalog, policy = load_catalog(), load_policy()
    async with pool.acquire() as conn, conn.transaction():
        fresh = await spend_store.claim(conn, commands)
        await spend_store.remember_callers(conn, commands)
        rows = await gift_store.lock_and_read(conn, commands, fresh)
        decisions = decide(
            commands, rows, policy, catalog.version, timedelta(seconds=catalog.combo_window_seconds)
        )
        records = [gift_record(d, catalog) if isinstance(d, Accepted) else None for d in decisions]
        refused = [
            c.claim for c, d in zip(commands, decisions, strict=True) if isinstance(d, DomainError)
        ]
        stored = await spend_store.stored_answers(
            conn, [d.command.claim for d in decisions if isinstance(d, Replay)]
        )
        await gift_store.write(
            conn,
            topics.GIFTING_EVENTS,
            [r for r in records if r],
            refused,
            final_wallets(decisions),
            final_combos(decisions),
        )
        await goals_store.tally(
            conn, topics.GIFTING_EVENTS, [d for d in decisions if isinstance(d, Accepted)]
        )
        await fan_levels_store.record(conn, [r.event for r in records if r])
    return [outcome(d, r, stored) for d, r in zip(decisions, records, strict=True)]


def gift_record(accepted: Accepted, catalog: GiftCatalog) -> GiftRecord:
    """Every gift is a GiftSent v2 (its consumers read v2: schemas/COMPATIBILITY.md), with the
    recipients and shares it was decided on: one creator at 10,000 bp, or a room's."""
    command, price = accepted.command, accepted.command.price
    recipients = tuple(Recipient(creator_id=c, share_bp=bp) for c, bp in accepted.recipients)
    event = new_envelope(
        SOURCE,
        GiftSentV2(
            gift_id=str(accepted.gift_id),
            sender_id=command.caller.user_id,
            recipients=recipients,
            context=GiftContext(kind=command.context_kind, id=command.context_id),
            gift_code=price.gift_code,
            quantity=price.quantity,
            unit_price=price.unit_price,
            coins=price.coins,
            diamonds_per_coin=catalog.diamonds_per_coin,
            commission_rate=catalog.commission_rate,
            rates_version=catalog.rates_version,
            catalog_version=catalog.version,
            combo_id=str(accepted.combo.combo_id),
            combo_count=accepted.combo.count,
            balance_after=accepted.balance_after,
            **lots.bonus_part(accepted.draws, catalog),
        ),
        aggregate_id=f"wallet-{command.caller.user_id}",
        aggregate_version=accepted.wallet_version,
        subject=recipients[0].creator_id,
        event_id=accepted.event_id,
    )
    response = {
        "gift_id": str(accepted.gift_id),
        "event_id": str(accepted.event_id),
        "coins": price.coins,
        "value": value_of(price.coins, command.caller.country).model_dump(),
        "combo_id": str(accepted.combo.combo_id),
        "combo_count": accepted.combo.count,
        "balance_after": accepted.balance_after,
        "recipients": [r.model_dump() for r in recipients],
    }
    if command.room_id is not None:
        response["room_id"] = command.room_id
    return GiftRecord(
        command,
        price.coins,
        accepted.balance_after,
        accepted.wallet_version,
        event,
        response,
        accepted.draws,
    )


def outcome(
    decision: Decision, record: GiftRecord | None, stored: dict[tuple, StoredAnswer]
) -> Outcome:
    if record is not None:
        return 201, record.response, False
    if isinstance(decision, Replay):
        return replayed(stored[decision.command.claim], decision.command.fingerprint)
    assert not isinstance(decision, Accepted)  # an accepted gift always has its record
    return decision
