"""Which outbox rows a relay may publish: one relay per shard of aggregate keys, by advisory lock.

The outbox is split into SHARDS by a hash of each row's Kafka key (the aggregate id), and a
relay publishes only the rows of the shards whose session advisory lock it holds. Every event of
one aggregate is in one shard, and one shard has one publisher at a time, which reads its rows
in outbox order: so per-aggregate order holds on the partition however many replicas run.

Replicas share the shards: each holds a shared "member" lock, counts the members, and keeps
ceil(SHARDS / members) shards, giving up the extras between batches (after marking them sent,
so the next holder finds nothing of them unsent) and taking free ones. A relay that dies
mid-batch loses its locks with its session; the next holder reads that shard's unsent rows in
id order, so the rows it sent but never marked go out again first, before anything newer of
those aggregates (duplicates only, which consumers drop by event id).

SHARDS is fixed (not a setting): every relay of one database must cut the keys the same way.
"""

import math
import random

import asyncpg

SHARDS = 64
# Two-key advisory locks (namespace, n); both namespaces are positive int4s, so pg_locks shows
# them as classid = namespace, objid = n, objsubid = 2.
_SHARD_LOCKS = 0x0B0C_5E7E
_MEMBER_LOCKS = 0x0B0C_5E7F

# The shard of an outbox row, as SQL over its `key` column (hashtext is the server's own hash:
# every relay of a database asks the same server, so all agree).
SHARD_OF_KEY = f"(hashtext(key) & 2147483647) % {SHARDS}"

_HELD = """
SELECT objid::bigint AS n FROM pg_locks
 WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def quota(members: int) -> int:
    """The shards each of `members` relays keeps: together they cover every shard."""
    return math.ceil(SHARDS / max(members, 1))


def plan(held: set[int], taken: set[int], members: int) -> tuple[list[int], list[int]]:
    """(shards to give up, free shards to try, in that order of preference) for a relay that
    holds `held` while `taken` (its own included) are locked by anyone."""
    keep = quota(members)
    if len(held) > keep:
        return sorted(held)[keep:], []
    free = [s for s in range(SHARDS) if s not in taken]
    random.shuffle(free)  # replicas joining together reach for different shards
    return [], free


async def join(conn: asyncpg.Connection) -> None:
    """Counts this session among the database's relays (released with the session)."""
    await conn.execute("SELECT pg_advisory_lock_shared($1, 0)", _MEMBER_LOCKS)


async def members(conn: asyncpg.Connection) -> int:
    return len(await conn.fetch(_HELD, _MEMBER_LOCKS))


async def rebalance(conn: asyncpg.Connection, held: set[int]) -> set[int]:
    """Gives up or takes shards toward this relay's share; returns the shards it now holds.
    Call only between batches: a shard given up must have no rows sent and not yet marked."""
    count = await members(conn)
    taken = {r["n"] for r in await conn.fetch(_HELD, _SHARD_LOCKS)}
    release, candidates = plan(held, taken, count)
    now = set(held)
    for shard in release:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", _SHARD_LOCKS, shard)
        now.discard(shard)
    for shard in candidates:
        if len(now) >= quota(count):
            break
        if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", _SHARD_LOCKS, shard):
            now.add(shard)
    return now
