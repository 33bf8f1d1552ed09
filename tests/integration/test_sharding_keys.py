"""Could the gifting and payout write side be sharded by owner (e.g. Citus, distribution column =
the wallet owner / the creator)? A distributed table's primary key and every unique index must
include its distribution column. This reads the migrated databases' catalogs and holds every
table to one of three answers: distributed by its owner column, replicated (a reference table),
or not distributable as it stands; and every unique index of a distributed table that lacks the
owner column is a listed exception with what sharding would change. A new table or index fails
here until it is classified.

pg_index rather than information_schema: a UNIQUE INDEX (payouts_provider_ref) is no constraint
there, yet binds a distributed table all the same."""

import pytest

# Distributed by the owner of the row: the wallet owner in gifting, the creator in payout.
DISTRIBUTED = {
    "gifting": {
        "wallets": "user_id",
        "wallet_ledger": "user_id",
        "profiles": "user_id",
        "combos": "sender_id",
        "unlocks": "user_id",
        "idempotency_keys": "caller",  # the caller is the authenticated user (spend_store.claim)
        "spending_controls": "user_id",
        "spend_windows": "user_id",
        "fan_points": "fan_id",  # moved by the fan's own gifts
        "subscriptions": "fan_id",  # charged to the fan's wallet, in its transaction
        "subscription_periods": "payer_id",
        "tickets": "fan_id",
    },
    "payout": {
        "creators": "creator_id",
        "payouts": "creator_id",
        "credits": "creator_id",
        "payout_days": "creator_id",
        "payout_methods": "creator_id",
        "idempotency_keys": "caller",
    },
}

# Not distributed, and why.
TALLY = (
    "a running total that gifts of many fans move in their own transaction (under the row lock):"
    " sharded by wallet owner it spans shards; it is distributed by creator_id once the tally is"
    " folded from the gift events (GoalProgressed/BattleScored) off the gift's transaction"
)
REFERENCE = "reference table (replicated to every node): small, rarely written, read by any owner"
UNSHARDED = {
    "gifting": {
        "items": REFERENCE + " (the unlock catalog; unlocks.item_id references it)",
        "bans": REFERENCE + " (a copy of the sanctions topic, keyed by ban id)",
        "schema_migrations": "bookkeeping of the migration step, on the coordinator only",
        "events": "no owner column: stream ids are 'wallet-<user>', 'item-<id>'; sharding adds"
        " owner_id (the subject) and keys (owner_id, event_id), (owner_id, stream_id, version)",
        "outbox": "no owner column: sharding adds owner_id, unique (owner_id, event_id); one relay"
        " per shard already (eventkit.relay_shards), which maps onto one per node's shards",
        "processed_events": "no owner column: sharding keys it (owner_id, event_id); every event"
        " gifting consumes moves one owner's rows (a wallet, a profile) or a reference table",
        "rooms": REFERENCE + " (a host's recipients and shares, read by every gift to the room)",
        "subscription_prices": REFERENCE + " (one price per creator, read by every subscriber)",
        "goals": TALLY,
        "goals_reached": TALLY + " (once per goal, with it)",
        "battles": TALLY,
        "battle_sides": TALLY,
        "live_events": "written by every buyer (its `sold` against `capacity`), in the buyer's"
        " transaction: distributed by creator_id, a ticket becomes a reservation on the event's"
        " shard, then the charge on the fan's (two steps, the reservation released on failure)",
        "wallet_lots": "keyed by lot_id (the grant id) alone; moved only with its owner's wallet,"
        " so sharding keys it (user_id, lot_id) and distributes it by user_id",
        "partner_clients": REFERENCE + " (a partner's client, read by every partner call)",
        "partner_days": "a partner's daily total that every user's partner debit moves in that"
        " user's transaction: " + TALLY.split(": ", 1)[1].replace("creator_id", "partner_id"),
        "partner_consents": "keyed by consent_id and its token hash (what a partner presents);"
        " sharding keys it (user_id, consent_id) and looks the token up by a reference index",
        "partner_operations": "keyed by operation_id and event_id alone, both written with the"
        " user's wallet: sharding keys them (user_id, operation_id), (user_id, event_id)",
    },
    "payout": {
        "bans": REFERENCE + " (a copy of the sanctions topic, keyed by ban id)",
        "sandbox_payouts": "the development sandbox provider's own books, not in production",
        "schema_migrations": "bookkeeping of the migration step, on the coordinator only",
        "events": "no owner column: sharding adds owner_id (the creator) and keys (owner_id,"
        " event_id), (owner_id, stream_id, version)",
        "outbox": "no owner column: sharding adds owner_id, unique (owner_id, event_id)",
        "processed_events": "no owner column, and a split GiftSent credits several creators from"
        " one event: sharding drops it for credits, whose key (source_event_id, creator_id)"
        " already dedupes per creator, or keys it (owner_id, event_id) per creator credited",
    },
}

# Unique indexes of distributed tables without the owner column: what sharding changes.
EXCEPTIONS = {
    ("gifting", "wallet_ledger_pkey"): "entry_id is a bigserial: becomes (user_id, entry_id)",
    ("gifting", "wallet_ledger_event_id_key"): "one entry per event, and an event moves one"
    " wallet (its subject): (user_id, event_id) keeps that",
    ("gifting", "unlocks_unlock_id_key"): "a uuid minted per unlock: (user_id, unlock_id)",
    ("gifting", "unlocks_event_id_key"): "a uuid minted per unlock: (user_id, event_id)",
    ("gifting", "subscriptions_pkey"): "a uuid minted per subscription: (fan_id,"
    " subscription_id); the renewal worker finds due rows by fan and id alike",
    ("gifting", "subscription_periods_pkey"): "(payer_id, subscription_id, period): the payer"
    " is the subscription's fan",
    ("gifting", "tickets_pkey"): "a uuid minted per ticket: (fan_id, ticket_id)",
    ("gifting", "tickets_purchase_event_id_key"): "one ticket per purchase event, which moves the"
    " buyer's wallet: (fan_id, purchase_event_id)",
    ("payout", "payouts_pkey"): "the provider's callback names a payout by id alone: sharding"
    " keys it (creator_id, payout_id) and the callback carries the creator (or a lookup table"
    " payout_id -> creator_id distributed by payout_id)",
    ("payout", "payouts_provider_ref"): "callbacks find a payout by the provider's reference:"
    " the same lookup table, or (creator_id, provider, provider_ref) with the creator sent along",
}

_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
_UNIQUE = """
SELECT t.relname AS table_name, i.relname AS index_name,
       array_agg(a.attname ORDER BY k.ord) AS columns
  FROM pg_index x
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
  JOIN pg_class i ON i.oid = x.indexrelid
 CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k (attnum, ord)
  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE x.indisunique
 GROUP BY 1, 2
"""
_NOT_NULL = """
SELECT attnotnull FROM pg_attribute WHERE attrelid = ('public.' || $1)::regclass AND attname = $2
"""


@pytest.mark.parametrize("service", ["gifting", "payout"])
async def test_every_unique_key_includes_the_owner_or_is_a_listed_exception(pools, service):
    pool = pools[service]
    tables = {r["tablename"] for r in await pool.fetch(_TABLES)}
    distributed, unsharded = DISTRIBUTED[service], UNSHARDED[service]
    assert tables == set(distributed) | set(unsharded), "classify every table (see the lists)"
    assert not set(distributed) & set(unsharded)
    for table, owner in distributed.items():
        assert await pool.fetchval(_NOT_NULL, table, owner), f"{table}.{owner} must be NOT NULL"

    unique = [r for r in await pool.fetch(_UNIQUE) if r["table_name"] in distributed]
    lacking = {r["index_name"] for r in unique if distributed[r["table_name"]] not in r["columns"]}
    listed = {index for (svc, index) in EXCEPTIONS if svc == service}
    assert lacking - listed == set(), "unique keys without the owner column, not yet listed"
    assert listed - lacking == set(), "listed exceptions that no longer exist (drop them)"
