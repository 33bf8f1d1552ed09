"""A batch of unlocks, start to end: claim the keys, lock and read (unlock_store), decide
(unlock_decide, pure), build the events, write everything in one statement, commit.

Each command gets its own outcome: accepted (201), the pair's first unlock (200, charged
nothing), a replay of the answer stored for its key, or the refusal it earned. A refusal
changes nothing (its key is released, so a retry is decided afresh); nothing of the batch is
visible, and nothing is answered, until its one commit.

Unlocks have a batcher of their own beside the gifts' (a flush handles one kind): both take
their locks in spend_store's one order, so a gift batch and an unlock batch of the same fans
wait on each other at worst, never deadlock.
"""

from datetime import datetime

import asyncpg
from pydantic import TypeAdapter

from eventkit.codec import new_envelope
from eventkit.group_commit import GroupCommit
from eventkit.problems import DomainError
from policy.coin_value import value_of
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.gifting import ContentUnlocked
from services.gifting import lots, spend_batch, spend_store, unlock_store
from services.gifting.catalog import GiftCatalog, load_catalog
from services.gifting.spend_decide import Outcome, Replay, StoredAnswer, replayed
from services.gifting.spend_store import Answer
from services.gifting.unlock_decide import (
    Accepted,
    AlreadyUnlocked,
    Decision,
    UnlockCommand,
    Unlocked,
    decide,
    final_wallets,
)
from services.gifting.unlock_store import UnlockRecord

SOURCE = "/coinstream/gifting"
# How the event contract and the public view name the owner of a platform item (no owner_id).
PLATFORM = "platform"


def batcher(pool: asyncpg.Pool) -> GroupCommit[UnlockCommand, Outcome]:
    return spend_batch.batcher(pool, run_batch)


async def run_batch(pool: asyncpg.Pool, commands: list[UnlockCommand]) -> list[Outcome]:
    catalog, policy = load_catalog(), load_policy()
    async with pool.acquire() as conn, conn.transaction():
        fresh = await spend_store.claim(conn, commands)
        await spend_store.remember_callers(conn, commands)
        rows = await unlock_store.lock_and_read(conn, commands, fresh)
        decisions = decide(commands, rows, policy)
        records = [
            unlock_record(d, catalog) if isinstance(d, Accepted) else None for d in decisions
        ]
        answers = [answer(d, r) for d, r in zip(decisions, records, strict=True)]
        stored = await spend_store.stored_answers(
            conn, [d.command.claim for d in decisions if isinstance(d, Replay)]
        )
        await unlock_store.write(
            conn,
            topics.GIFTING_EVENTS,
            [r for r in records if r],
            [a for a in answers if a],
            [
                c.claim
                for c, d in zip(commands, decisions, strict=True)
                if isinstance(d, DomainError)
            ],
            final_wallets(decisions),
        )
    return [outcome(d, a, stored) for d, a in zip(decisions, answers, strict=True)]


def answer(decision: Decision, record: UnlockRecord | None) -> Answer | None:
    """What this batch stores for the command's key: nothing for a replay or a refusal."""
    if record is not None:
        return Answer(*record.command.claim, 201, record.response)
    if isinstance(decision, AlreadyUnlocked):
        unlock = decision.unlock
        command = decision.command
        body = response(command.item_id, unlock, command.caller.country, already=True)
        return Answer(*decision.command.claim, 200, body)
    return None


def outcome(
    decision: Decision, answer: Answer | None, stored: dict[tuple, StoredAnswer]
) -> Outcome:
    if answer is not None:
        return answer.status, answer.body, False
    if isinstance(decision, Replay):
        return replayed(stored[decision.command.claim], decision.command.fingerprint)
    assert isinstance(decision, DomainError)  # an accepted unlock always has its answer
    return decision


def public_owner(owner_id: str | None) -> str:
    return PLATFORM if owner_id is None else owner_id


def unlock_record(accepted: Accepted, catalog: GiftCatalog) -> UnlockRecord:
    command, unlock = accepted.command, accepted.unlock
    event = new_envelope(
        SOURCE,
        ContentUnlocked(
            unlock_id=str(unlock.unlock_id),
            user_id=command.caller.user_id,
            item_id=command.item_id,
            owner_id=public_owner(accepted.item.owner_id),
            coins=unlock.coins,
            diamonds_per_coin=catalog.diamonds_per_coin,
            commission_rate=catalog.commission_rate,
            rates_version=catalog.rates_version,
            catalog_version=catalog.version,
            balance_after=unlock.balance_after,
            **lots.bonus_part(accepted.draws, catalog),
        ),
        aggregate_id=f"wallet-{command.caller.user_id}",
        aggregate_version=accepted.wallet_version,
        subject=command.item_id,
        event_id=accepted.event_id,
    )
    body = response(command.item_id, unlock, command.caller.country, already=False)
    return UnlockRecord(command, unlock, accepted.wallet_version, event, body, accepted.draws)


def response(item_id: str, unlock: Unlocked, country: str | None, *, already: bool) -> dict:
    """The UnlockPublic body (unlocks.py), as that model writes it in JSON (the coins' value in
    the money of the caller's `country`)."""
    return {
        "unlock_id": str(unlock.unlock_id),
        "item_id": item_id,
        "coins": unlock.coins,
        "value": value_of(unlock.coins, country).model_dump(),
        "balance_after": unlock.balance_after,
        "unlocked_at": _json_time(unlock.unlocked_at),
        "already_unlocked": already,
    }


_TIME = TypeAdapter(datetime)  # the time as the response model writes it


def _json_time(at: datetime) -> str:
    return _TIME.dump_python(at, mode="json")
