"""The steps every spend (gift or unlock) takes inside its transaction."""

from datetime import datetime

import asyncpg

from eventkit.auth import Caller
from eventkit.db import Statement
from eventkit.eventstore import append_with
from policy.eligibility import load_policy
from schemas import topics
from schemas.envelope import Envelope
from services.gifting import accounts, ledger
from services.gifting.errors import Banned, InsufficientCoins, NotEligible
from services.gifting.rules import Profile, sender_refusal


async def check_spender(conn: asyncpg.Connection, caller: Caller, now: datetime) -> None:
    check_eligible(caller, now)
    if await accounts.banned(conn, caller.user_id, "gift"):
        raise spending_banned()


def check_eligible(caller: Caller, now: datetime) -> None:
    why = sender_refusal(
        load_policy(), Profile(caller.country, caller.birthdate, caller.account_type), now
    )
    if why:
        raise NotEligible(why)


def spending_banned() -> Banned:
    return Banned("this account is banned from spending coins")


async def debit(
    conn: asyncpg.Connection, user_id: str, coins: int, kind: str = "spend"
) -> tuple[int, int]:
    """(balance after, wallet version), or InsufficientCoins with the current balance, or the
    refusal of the owner's spending controls (limits_store.check_one), counted if it passes."""
    # imported here: limits_store -> spend_decide -> this module (spending_banned)
    from services.gifting import limits_store

    await limits_store.check_one(conn, user_id, coins, kind)
    spent = await ledger.spend(conn, user_id, coins)
    if spent is None:
        raise await insufficient(conn, user_id, coins)
    await limits_store.count_one(conn, user_id, coins)
    return spent


async def insufficient(conn: asyncpg.Connection, user_id: str, coins: int) -> InsufficientCoins:
    return InsufficientCoins(f"{coins} coins needed", balance=await ledger.balance(conn, user_id))


async def record(
    conn: asyncpg.Connection,
    user_id: str,
    kind: str,
    coins: int,
    balance_after: int,
    event: Envelope,
    *also: Statement,
) -> None:
    """The ledger row, the event, its outbox row and `also` (e.g. the idempotency response):
    one round trip."""
    await append_with(
        conn,
        topics.GIFTING_EVENTS,
        event,
        ledger.spend_entry(user_id, event.id, kind, coins, balance_after),
        *also,
    )
