"""Partner platforms in PostgreSQL: clients, consents, the per-partner day totals and the
operations, each change with its event in the same transaction (stream `partner-<id>` for a
client, `consent-<id>` for a consent, the user's `wallet-<id>` for a coin move, as every
spend). Decisions are partners_decide's; this module reads, locks and writes.

Lock order of an operation: the consent row, then the partner's day row, then the wallet
(spending.debit), so two operations never wait on each other in a cycle.
"""

from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from eventkit.codec import new_envelope
from eventkit.eventstore import append
from policy.eligibility import load_policy
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.base import Payload
from schemas.events.partners import (
    PartnerClientIssued,
    PartnerCoinsCredited,
    PartnerCoinsDebited,
    PartnerConsentGranted,
    PartnerConsentRevoked,
    PartnerSecretRotated,
)
from services.gifting import accounts, ledger, spending
from services.gifting.catalog import load_catalog
from services.gifting.errors import NotEligible
from services.gifting.partners_decide import (
    CREDIT,
    DEBIT,
    Client,
    Consent,
    consent_refusal,
    limit_reached,
    utc_day,
)
from services.gifting.rules import sender_refusal

SOURCE = "/coinstream/gifting"
DEBIT_KIND, CREDIT_KIND = "partner_debit", "partner_credit"  # their wallet_ledger kinds

_CLIENT = (
    "partner_id, client_id, name, scopes, revenue_share_bp, daily_coins, secret_version,"
    " version, created_at, rotated_at"
)
_CONSENT = (
    "consent_id, user_id, partner_id, scopes, max_coins, coins_used, granted_at, revoked_at,"
    " version"
)


async def emit(conn: asyncpg.Connection, stream: str, version: int, payload: Payload, subject):
    envelope = new_envelope(
        SOURCE, payload, aggregate_id=stream, aggregate_version=version, subject=subject
    )
    await append(conn, topics.GIFTING_EVENTS, envelope)
    return envelope


def client_of(row: asyncpg.Record) -> Client:
    return Client(
        row["partner_id"],
        row["client_id"],
        tuple(row["scopes"]),
        row["revenue_share_bp"],
        row["daily_coins"],
        row["secret_version"],
    )


# --- clients ----------------------------------------------------------------------------------


async def issue(
    conn: asyncpg.Connection, client: Client, name: str, secret_hash: str
) -> asyncpg.Record | None:
    """The new client's row and PartnerClientIssued; None when the partner already has one."""
    row = await conn.fetchrow(
        "INSERT INTO partner_clients (partner_id, client_id, name, scopes, revenue_share_bp,"
        " daily_coins, secret_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" ON CONFLICT (partner_id) DO NOTHING RETURNING {_CLIENT}",
        client.partner_id,
        client.client_id,
        name,
        list(client.scopes),
        client.revenue_share_bp,
        client.daily_coins,
        secret_hash,
    )
    if row is not None:
        payload = PartnerClientIssued(
            partner_id=client.partner_id,
            client_id=client.client_id,
            name=name,
            scopes=client.scopes,  # type: ignore[arg-type]
            revenue_share_bp=client.revenue_share_bp,
            daily_coins=client.daily_coins,
            secret_version=1,
        )
        await emit(conn, f"partner-{client.partner_id}", 1, payload, client.partner_id)
    return row


async def rotate(
    conn: asyncpg.Connection, partner_id: str, expected: int, secret_hash: str
) -> asyncpg.Record | None:
    """The client after its secret is replaced (secret_version + 1) and PartnerSecretRotated;
    None unless its secret version is `expected` (so a retried rotation rotates once)."""
    row = await conn.fetchrow(
        "UPDATE partner_clients SET secret_hash = $3, secret_version = secret_version + 1,"
        " version = version + 1, rotated_at = now()"
        f" WHERE partner_id = $1 AND secret_version = $2 RETURNING {_CLIENT}",
        partner_id,
        expected,
        secret_hash,
    )
    if row is not None:
        payload = PartnerSecretRotated(
            partner_id=partner_id, client_id=row["client_id"], secret_version=row["secret_version"]
        )
        await emit(conn, f"partner-{partner_id}", row["version"], payload, partner_id)
    return row


async def client_row(conn: asyncpg.Connection, partner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CLIENT} FROM partner_clients WHERE partner_id = $1", partner_id
    )


async def clients(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_CLIENT} FROM partner_clients ORDER BY partner_id")


async def credentials(conn: asyncpg.Connection, client_id: str) -> tuple[Client, str] | None:
    """A client by its client_id, and its stored secret hash."""
    row = await conn.fetchrow(
        f"SELECT {_CLIENT}, secret_hash FROM partner_clients WHERE client_id = $1", client_id
    )
    return (client_of(row), row["secret_hash"]) if row else None


async def client(conn: asyncpg.Connection, partner_id: str) -> Client | None:
    row = await client_row(conn, partner_id)
    return client_of(row) if row else None


# --- consents ---------------------------------------------------------------------------------


async def grant(
    conn: asyncpg.Connection,
    user_id: str,
    partner_id: str,
    scopes: tuple[str, ...],
    max_coins: int | None,
    token_hash: bytes,
    now: datetime,
) -> asyncpg.Record:
    consent_id = uuid4()
    row = await conn.fetchrow(
        "INSERT INTO partner_consents (consent_id, user_id, partner_id, scopes, max_coins,"
        f" token_hash, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_CONSENT}",
        consent_id,
        user_id,
        partner_id,
        list(scopes),
        max_coins,
        token_hash,
        now,
    )
    payload = PartnerConsentGranted(
        consent_id=str(consent_id),
        user_id=user_id,
        partner_id=partner_id,
        scopes=scopes,  # type: ignore[arg-type]
        max_coins=max_coins,
    )
    await emit(conn, f"consent-{consent_id}", 1, payload, user_id)
    return row


async def revoke(
    conn: asyncpg.Connection, user_id: str, consent_id: UUID, now: datetime
) -> asyncpg.Record | None:
    """The consent, revoked now (PartnerConsentRevoked) unless it already was; None when the
    user has no such consent."""
    row = await conn.fetchrow(
        f"SELECT {_CONSENT} FROM partner_consents WHERE consent_id = $1 AND user_id = $2"
        " FOR UPDATE",
        consent_id,
        user_id,
    )
    if row is None or row["revoked_at"] is not None:
        return row
    row = await conn.fetchrow(
        "UPDATE partner_consents SET revoked_at = $2, version = version + 1"
        f" WHERE consent_id = $1 RETURNING {_CONSENT}",
        consent_id,
        now,
    )
    payload = PartnerConsentRevoked(
        consent_id=str(consent_id), user_id=user_id, partner_id=row["partner_id"]
    )
    await emit(conn, f"consent-{consent_id}", row["version"], payload, user_id)
    return row


async def consents_of(conn: asyncpg.Connection, user_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_CONSENT} FROM partner_consents WHERE user_id = $1"
        " ORDER BY granted_at DESC, consent_id",
        user_id,
    )


def consent_of(row: asyncpg.Record) -> Consent:
    return Consent(
        str(row["consent_id"]),
        row["user_id"],
        row["partner_id"],
        tuple(row["scopes"]),
        row["max_coins"],
        row["coins_used"],
        row["revoked_at"] is not None,
    )


async def locked_consent(conn: asyncpg.Connection, token_hash: bytes) -> Consent | None:
    """The consent of a token, locked until the transaction ends."""
    row = await conn.fetchrow(
        f"SELECT {_CONSENT} FROM partner_consents WHERE token_hash = $1 FOR UPDATE", token_hash
    )
    return consent_of(row) if row else None


# --- operations -------------------------------------------------------------------------------

_COUNT_DAY = """
INSERT INTO partner_days AS d (partner_id, day, coins)
SELECT $1::text, $2::date, $3::bigint WHERE $3::bigint <= $4::bigint
ON CONFLICT (partner_id, day) DO UPDATE SET coins = d.coins + EXCLUDED.coins
WHERE d.coins + EXCLUDED.coins <= $4::bigint
RETURNING coins
"""


async def count_day(conn: asyncpg.Connection, c: Client, coins: int, now: datetime) -> None:
    """Counts `coins` in the partner's UTC day, or raises PartnerLimitReached. The upsert
    waits on the day row a concurrent operation holds, then re-checks the total it left."""
    day = utc_day(now).date()
    if await conn.fetchval(_COUNT_DAY, c.partner_id, day, coins, c.daily_coins) is None:
        used = await conn.fetchval(
            "SELECT coalesce(max(coins), 0) FROM partner_days WHERE partner_id = $1 AND day = $2",
            c.partner_id,
            day,
        )
        raise limit_reached(c.partner_id, c.daily_coins, used, coins, now)


async def authorised(
    conn: asyncpg.Connection, c: Client, token_hash: bytes, scope: str, coins: int, now: datetime
) -> Consent:
    """The consent letting the partner move `coins` under `scope`, with the coins counted in
    the partner's day (and, for a debit, in the consent's use), or the refusal."""
    consent = await locked_consent(conn, token_hash)
    why = consent_refusal(consent, c.partner_id, scope, coins)
    if why is not None:
        raise why
    assert consent is not None  # consent_refusal refuses a missing one
    await count_day(conn, c, coins, now)
    if scope == DEBIT:
        await conn.execute(
            "UPDATE partner_consents SET coins_used = coins_used + $2 WHERE consent_id = $1",
            UUID(consent.consent_id),
            coins,
        )
    return consent


async def check_payer(conn: asyncpg.Connection, user_id: str, now: datetime) -> None:
    """The user may spend at all: the age, region and account rules by their stored profile
    (kept when they granted the consent), and no ban from spending."""
    profile = await accounts.profile(conn, user_id)
    why = "no profile" if profile is None else sender_refusal(load_policy(), profile, now)
    if why:
        raise NotEligible(why)
    if await accounts.banned(conn, user_id, "gift"):
        raise spending.spending_banned()


async def _operation(
    conn: asyncpg.Connection, event: Envelope, payload, kind: str, reference: str
) -> None:
    await conn.execute(
        "INSERT INTO partner_operations (operation_id, partner_id, user_id, consent_id, kind,"
        " coins, reference, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        UUID(payload.operation_id),
        payload.partner_id,
        payload.user_id,
        UUID(payload.consent_id),
        kind,
        payload.coins,
        reference,
        event.id,
    )


async def debit(
    conn: asyncpg.Connection,
    c: Client,
    token_hash: bytes,
    item_id: str,
    title: str,
    coins: int,
    now: datetime,
) -> PartnerCoinsDebited:
    """Debits the consenting user's coins for the partner's item through the one spend path
    (spending.debit: the user's spending limits and age rules, no overdraft) and records
    PartnerCoinsDebited with the partner's revenue share and the diamond rate in force."""
    consent = await authorised(conn, c, token_hash, DEBIT, coins, now)
    await check_payer(conn, consent.user_id, now)
    balance, version = await spending.debit(conn, consent.user_id, coins, DEBIT_KIND)
    catalog = load_catalog()
    payload = PartnerCoinsDebited(
        operation_id=str(uuid4()),
        partner_id=c.partner_id,
        user_id=consent.user_id,
        consent_id=consent.consent_id,
        item_id=item_id,
        title=title,
        coins=coins,
        balance_after=balance,
        revenue_share_bp=c.revenue_share_bp,
        diamonds_per_coin=catalog.diamonds_per_coin,
        rates_version=catalog.rates_version,
    )
    event = wallet_event(payload, version)
    await spending.record(conn, consent.user_id, DEBIT_KIND, coins, balance, event)
    await _operation(conn, event, payload, "debit", item_id)
    return payload


async def credit(
    conn: asyncpg.Connection,
    c: Client,
    token_hash: bytes,
    reference: str,
    reason: str,
    coins: int,
    now: datetime,
) -> PartnerCoinsCredited:
    """Credits the consenting user coins they earned on the partner's platform (the wallet's
    credit path, ledger kind partner_credit) and records PartnerCoinsCredited."""
    consent = await authorised(conn, c, token_hash, CREDIT, coins, now)
    if await accounts.banned(conn, consent.user_id, "receive"):
        raise spending.spending_banned()
    event_id = uuid4()
    balance = await ledger.credit(conn, consent.user_id, coins, event_id, CREDIT_KIND)
    version = await conn.fetchval(
        "SELECT version FROM wallets WHERE user_id = $1", consent.user_id
    )  # the row this transaction just wrote (and locks): its version is this credit's
    payload = PartnerCoinsCredited(
        operation_id=str(uuid4()),
        partner_id=c.partner_id,
        user_id=consent.user_id,
        consent_id=consent.consent_id,
        reference=reference,
        reason=reason,
        coins=coins,
        balance_after=balance,
    )
    event = wallet_event(payload, version, event_id)
    await append(conn, topics.GIFTING_EVENTS, event)
    await _operation(conn, event, payload, "credit", reference)
    return payload


def wallet_event(
    payload: PartnerCoinsDebited | PartnerCoinsCredited, version: int, event_id: UUID | None = None
) -> Envelope:
    return new_envelope(
        SOURCE,
        payload,
        aggregate_id=f"wallet-{payload.user_id}",
        aggregate_version=version,
        subject=payload.user_id,
        event_id=event_id,
    )
