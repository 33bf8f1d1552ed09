"""Subscriptions in PostgreSQL: prices, subscribing, gifting, cancelling, and the rows the API
reads. Every coin debit goes through ledger.spend (the conditional UPDATE every spend uses), so
no-overdraft holds across gifts, unlocks and subscriptions; each charge writes its ledger row,
its event and its outbox row with the wallet's new version (stream `wallet-<id>`), as every
spend does. The pure decisions are in subscription_rules."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from eventkit.auth import Caller
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.base import Payload
from schemas.events.subscriptions import (
    Entitlement,
    GiftedSubscription,
    SubscriptionCancelled,
    SubscriptionPriceSet,
    SubscriptionsGifted,
    SubscriptionStarted,
)
from services.gifting import accounts, spending
from services.gifting.errors import PriceChanged, RecipientNotEligible, RecipientNotFound
from services.gifting.rules import earner_refusal, sender_refusal
from services.gifting.subscription_errors import (
    AlreadySubscribed,
    SelfSubscription,
    SubscriptionNotFound,
    SubscriptionNotOffered,
    ViewerNotEligible,
)
from services.gifting.subscription_rules import SubscriptionConfig, entitled, load_config

SOURCE = "/coinstream/gifting"
KIND = "subscription"  # wallet_ledger kind of a subscription's own period
GIFT_KIND = "subscription_gift"  # wallet_ledger kind of a subscriptions gift

COLUMNS = (
    "subscription_id, fan_id, creator_id, gift_id, status, auto_renew, coins, period,"
    " period_start, period_end, grace_until, prior_months, ended_reason, version"
)


def entitlement(months: int, config: SubscriptionConfig) -> Entitlement:
    return Entitlement(months=months, tier=config.tier(months))  # type: ignore[arg-type]


def public(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    """A subscription as the API shows it (SubscriptionPublic)."""
    months = row["prior_months"] + row["period"]
    return {
        "subscription_id": str(row["subscription_id"]),
        "fan_id": row["fan_id"],
        "creator_id": row["creator_id"],
        "gifted": row["gift_id"] is not None,
        "status": row["status"],
        "auto_renew": row["auto_renew"],
        "coins": row["coins"],
        "period": row["period"],
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(),
        "grace_until": row["grace_until"].isoformat() if row["grace_until"] else None,
        "ended_reason": row["ended_reason"],
        "entitled": entitled(row["status"], row["period_end"], now),
        "months": months,
        "tier": load_config().tier(months),
    }


async def emit(conn: asyncpg.Connection, payload: Payload, stream: str, version: int, subject: str):
    envelope = new_envelope(
        SOURCE, payload, aggregate_id=stream, aggregate_version=version, subject=subject
    )
    await append(conn, topics.GIFTING_EVENTS, envelope)


# --- prices ---------------------------------------------------------------------------------


async def set_price(conn: asyncpg.Connection, creator_id: str, coins: int) -> int:
    """The new price version; SubscriptionPriceSet recorded."""
    version = await conn.fetchval(
        "INSERT INTO subscription_prices AS p (creator_id, coins) VALUES ($1, $2)"
        " ON CONFLICT (creator_id) DO UPDATE SET coins = $2, version = p.version + 1,"
        " updated_at = now() RETURNING version",
        creator_id,
        coins,
    )
    payload = SubscriptionPriceSet(
        creator_id=creator_id,
        coins=coins,
        price_version=version,
        config_version=load_config().version,
    )
    await emit(conn, payload, f"subscription-price-{creator_id}", version, creator_id)
    return version


async def price(conn: asyncpg.Connection, creator_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT coins, version, updated_at FROM subscription_prices WHERE creator_id = $1",
        creator_id,
    )


async def offered(conn: asyncpg.Connection, creator_id: str, coins_shown: int) -> asyncpg.Record:
    """The creator's price row, when it is the price the caller was shown."""
    row = await price(conn, creator_id)
    if row is None:
        raise SubscriptionNotOffered(f"{creator_id} offers no subscription")
    if row["coins"] != coins_shown:
        raise PriceChanged(
            f"a month of {creator_id} now costs {row['coins']} coins, not {coins_shown}",
            coins=row["coins"],
        )
    return row


async def check_creator(conn: asyncpg.Connection, creator_id: str, now: datetime) -> None:
    """The creator may earn from the subscription: known, eligible, not banned from receiving."""
    profile = await accounts.profile(conn, creator_id)
    if profile is None:
        raise RecipientNotFound(f"{creator_id} is unknown to gifting")
    why = earner_refusal(load_policy(), profile, now)
    if why:
        raise RecipientNotEligible(f"the creator cannot earn: {why}")
    if await accounts.banned(conn, creator_id, "receive"):
        raise RecipientNotEligible("the creator is banned from receiving coins")


# --- subscribing ----------------------------------------------------------------------------


async def live(conn: asyncpg.Connection, fan_id: str, creator_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM subscriptions"
        " WHERE fan_id = $1 AND creator_id = $2 AND status <> 'ended'",
        fan_id,
        creator_id,
    )


async def prior_months(conn: asyncpg.Connection, fan_id: str, creator_id: str) -> int:
    """Months the fan paid the creator in subscriptions already ended."""
    return await conn.fetchval(
        "SELECT coalesce(max(prior_months + period), 0) FROM subscriptions"
        " WHERE fan_id = $1 AND creator_id = $2 AND status = 'ended'",
        fan_id,
        creator_id,
    )


_INSERT = (
    "INSERT INTO subscriptions (subscription_id, fan_id, creator_id, gift_id, status,"
    " auto_renew, coins, period, period_start, period_end, next_attempt_at, prior_months)"
    " VALUES ($1, $2, $3, $4, 'active', $5, $6, 1, $7, $8, $8, $9)"
    " ON CONFLICT (fan_id, creator_id) WHERE status <> 'ended' DO NOTHING"
    f" RETURNING {COLUMNS}"
)
_PERIOD = (
    "INSERT INTO subscription_periods (subscription_id, period, payer_id, creator_id, coins,"
    " event_id, paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


async def subscribe(
    conn: asyncpg.Connection, caller: Caller, creator_id: str, coins_shown: int, now: datetime
) -> tuple[int, dict[str, Any]]:
    """201 and the new subscription, its first month debited; 200 and the fan's live
    subscription to the creator when there is one (charged nothing, whatever the key)."""
    fan = caller.user_id
    if fan == creator_id:
        raise SelfSubscription("a creator cannot subscribe to themselves")
    existing = await live(conn, fan, creator_id)
    if existing is not None:
        return 200, public(existing, now)
    await spending.check_spender(conn, caller, now)
    await accounts.remember_caller(conn, caller)
    row = await offered(conn, creator_id, coins_shown)
    await check_creator(conn, creator_id, now)
    config = load_config()
    prior = await prior_months(conn, fan, creator_id)
    sub = await conn.fetchrow(
        _INSERT, uuid4(), fan, creator_id, None, True, row["coins"], now, now + config.period, prior
    )
    if sub is None:  # a concurrent subscribe won the unique index and committed first
        existing = await live(conn, fan, creator_id)
        assert existing is not None  # the winner committed: its row is visible now
        return 200, public(existing, now)
    balance, version = await spending.debit(conn, fan, row["coins"])
    payload = SubscriptionStarted(
        payer_id=fan,
        creator_id=creator_id,
        coins=row["coins"],
        creator_share=config.creator_share,
        diamonds_per_coin=config.diamonds_per_coin,
        rates_version=config.rates_version,
        balance_after=balance,
        subscription_id=str(sub["subscription_id"]),
        fan_id=fan,
        period=1,
        period_start=now,
        period_end=sub["period_end"],
        price_version=row["version"],
        entitlement=entitlement(prior + 1, config),
    )
    await charge(conn, fan, KIND, payload, version, [(sub["subscription_id"], 1)], now)
    return 201, public(sub, now)


async def charge(
    conn: asyncpg.Connection,
    payer: str,
    kind: str,
    payload: Any,
    wallet_version: int,
    periods: list[tuple[UUID, int]],
    now: datetime,
) -> None:
    """A charge event on the payer's wallet stream, its ledger row and outbox row, and the
    periods it pays (each (subscription, period) once: the primary key refuses a second)."""
    envelope = new_envelope(
        SOURCE,
        payload,
        aggregate_id=f"wallet-{payer}",
        aggregate_version=wallet_version,
        subject=payer,
    )
    await spending.record(conn, payer, kind, payload.coins, payload.balance_after, envelope)
    unit = payload.coins // len(periods)
    await conn.executemany(
        _PERIOD, [(s, p, payer, payload.creator_id, unit, envelope.id, now) for s, p in periods]
    )


async def check_viewer(conn: asyncpg.Connection, viewer: str, now: datetime) -> None:
    """A gift's recipient may hold a subscription: known to gifting, allowed to spend (age,
    region, account type) and not banned from spending or receiving."""
    profile = await accounts.profile(conn, viewer)
    if profile is None:
        raise RecipientNotFound(f"{viewer} is unknown to gifting (no account profile yet)")
    why = sender_refusal(load_policy(), profile, now)
    if why:
        raise ViewerNotEligible(f"{viewer} may not hold a subscription: {why}")
    if await accounts.banned(conn, viewer, "gift") or await accounts.banned(
        conn, viewer, "receive"
    ):
        raise ViewerNotEligible(f"{viewer} is banned from transactions")


async def gift(
    conn: asyncpg.Connection,
    caller: Caller,
    creator_id: str,
    viewers: list[str],
    coins_shown: int,
    stream_id: str | None,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """N one-month subscriptions for N viewers, one debit of N x the price: all or nothing
    (any refusal raises, and the transaction rolls every row back)."""
    payer = caller.user_id
    if payer in viewers:
        raise SelfSubscription("gift subscriptions to other viewers, not to yourself")
    if creator_id in viewers:
        raise SelfSubscription("a creator cannot be given a subscription to themselves")
    await spending.check_spender(conn, caller, now)
    await accounts.remember_caller(conn, caller)
    row = await offered(conn, creator_id, coins_shown)
    await check_creator(conn, creator_id, now)
    for viewer in viewers:
        await check_viewer(conn, viewer, now)
    config = load_config()
    gift_id = uuid4()
    made: list[tuple[str, asyncpg.Record]] = []
    for viewer in sorted(viewers):  # one order: two gifts naming the same viewers never deadlock
        prior = await prior_months(conn, viewer, creator_id)
        sub = await conn.fetchrow(
            _INSERT,
            uuid4(),
            viewer,
            creator_id,
            gift_id,
            False,
            row["coins"],
            now,
            now + config.period,
            prior,
        )
        if sub is None:
            raise AlreadySubscribed(f"{viewer} already holds a subscription to {creator_id}")
        made.append((viewer, sub))
    total = row["coins"] * len(viewers)
    balance, version = await spending.debit(conn, payer, total)
    payload = SubscriptionsGifted(
        payer_id=payer,
        creator_id=creator_id,
        coins=total,
        creator_share=config.creator_share,
        diamonds_per_coin=config.diamonds_per_coin,
        rates_version=config.rates_version,
        balance_after=balance,
        gift_id=str(gift_id),
        unit_coins=row["coins"],
        price_version=row["version"],
        stream_id=stream_id,
        period_start=now,
        period_end=now + config.period,
        recipients=tuple(
            GiftedSubscription(
                fan_id=viewer,
                subscription_id=str(sub["subscription_id"]),
                entitlement=entitlement(sub["prior_months"] + 1, config),
            )
            for viewer, sub in made
        ),
    )
    await charge(
        conn, payer, GIFT_KIND, payload, version, [(s["subscription_id"], 1) for _, s in made], now
    )
    return 201, {
        "gift_id": str(gift_id),
        "creator_id": creator_id,
        "coins": total,
        "balance_after": balance,
        "subscriptions": [public(s, now) for _, s in made],
    }


async def cancel(
    conn: asyncpg.Connection, fan: str, subscription_id: UUID, now: datetime
) -> dict[str, Any]:
    """Stops the next renewal (no refund: entitled until the period's end). Cancelling what is
    already cancelled, gifted or ended changes nothing. In grace (the period already over) the
    worker ends it at once."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM subscriptions WHERE subscription_id = $1 AND fan_id = $2"
        " FOR UPDATE",
        subscription_id,
        fan,
    )
    if row is None:
        raise SubscriptionNotFound(str(subscription_id))
    if row["status"] == "ended" or not row["auto_renew"]:
        return public(row, now)
    grace = row["status"] == "grace"
    row = await conn.fetchrow(
        "UPDATE subscriptions SET auto_renew = false, version = version + 1,"
        " next_attempt_at = CASE WHEN $2 THEN $3 ELSE next_attempt_at END"
        f" WHERE subscription_id = $1 RETURNING {COLUMNS}",
        subscription_id,
        grace,
        now,
    )
    payload = SubscriptionCancelled(
        subscription_id=str(subscription_id),
        fan_id=fan,
        creator_id=row["creator_id"],
        ends_at=now if grace else row["period_end"],
    )
    await emit(conn, payload, f"subscription-{subscription_id}", row["version"], fan)
    return public(row, now)


async def of_fan(conn: asyncpg.Connection, fan: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM subscriptions WHERE fan_id = $1 ORDER BY created_at, creator_id",
        fan,
    )


async def one(conn: asyncpg.Connection, subscription_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM subscriptions WHERE subscription_id = $1", subscription_id
    )


async def standing(
    conn: asyncpg.Connection, fan: str, creator_id: str, now: datetime
) -> dict[str, Any]:
    """A fan's entitlement with a creator: entitled now, months paid in total, the tier."""
    sub = await live(conn, fan, creator_id)
    months = (
        sub["prior_months"] + sub["period"] if sub else await prior_months(conn, fan, creator_id)
    )
    return {
        "fan_id": fan,
        "creator_id": creator_id,
        "entitled": sub is not None and entitled(sub["status"], sub["period_end"], now),
        "months": months,
        "tier": load_config().tier(months),
        "subscription_id": str(sub["subscription_id"]) if sub else None,
    }
