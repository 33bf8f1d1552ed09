"""The SQL of goals and battles inside a gift batch: one statement reads (and locks) the goals
of the batch's streams and the open battle sides of its hosts, one writes what goals_decide
tallied with its events (GoalProgressed, GoalReached, BattleScored) and their outbox rows.

Both run after the wallets are locked (spend_store's order: keys, profiles, wallets), then goals
by id, then battle sides by (battle, side), so gift batches never deadlock on them; the battle
and goal routes lock no wallet.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import uuid4

import asyncpg

from eventkit.codec import encode, new_envelope
from schemas.envelope import Envelope
from schemas.events.rooms import BattleScored, GoalProgressed, GoalReached
from services.gifting.gift_decide import Accepted
from services.gifting.goals_decide import Goal, GoalMove, Side, tally_goals, tally_sides
from services.gifting.spend_store import bound, columns

SOURCE = "/coinstream/gifting"

# FOR UPDATE in each CTE: the rows are re-read at their latest committed state once locked, so
# a batch sees the progress and scores the batch before it committed.
_READ = """
WITH g AS (
    SELECT goal_id, creator_id, stream_id, metric, gift_code, target, deadline, progress, version
    FROM goals WHERE stream_id = ANY(:streams::text[]) AND deadline > :since
    ORDER BY goal_id FOR UPDATE),
s AS (
    SELECT s.battle_id, s.side, s.host_id, s.score, s.version, b.started_at, s.ends_at
    FROM battle_sides s JOIN battles b USING (battle_id)
    WHERE s.host_id = ANY(:hosts::text[]) AND s.ends_at > :since AND s.open
    ORDER BY s.battle_id, s.side FOR UPDATE OF s)
SELECT 'goal' AS kind, to_jsonb(g) AS row FROM g
UNION ALL
SELECT 'side', to_jsonb(s) FROM s
"""

_WRITE = """
WITH
goal AS (
    UPDATE goals g SET progress = v.progress, version = v.version
    FROM unnest(:goal_ids::text[], :goal_progress::bigint[], :goal_versions::integer[])
        AS v (goal_id, progress, version)
    WHERE g.goal_id = v.goal_id),
reached AS (
    INSERT INTO goals_reached (goal_id, gift_id, event_id, progress)
    SELECT * FROM unnest(:reached_goals::text[], :reached_gifts::uuid[],
                         :reached_events::uuid[], :reached_progress::bigint[])),
side AS (
    UPDATE battle_sides s SET score = v.score, version = v.version
    FROM unnest(:side_battles::text[], :side_numbers::integer[], :side_scores::bigint[],
                :side_versions::integer[]) AS v (battle_id, side, score, version)
    WHERE s.battle_id = v.battle_id AND s.side = v.side),
tally AS (
    SELECT * FROM unnest(:event_ids::uuid[], :streams::text[], :versions::integer[],
                         :types::text[], :values::bytea[])
        WITH ORDINALITY AS t (event_id, stream_id, version, event_type, value, n)),
event AS (
    INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)
    SELECT event_id, stream_id, version, event_type, 1, convert_from(value, 'UTF8')::jsonb
    FROM tally ORDER BY n)
INSERT INTO outbox (event_id, topic, key, value)
SELECT event_id, :topic, stream_id, value FROM tally ORDER BY n
"""


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def read(
    conn: asyncpg.Connection, gifts: Sequence[Accepted]
) -> tuple[list[Goal], list[Side]]:
    """The goals and open battle sides the batch's accepted gifts may move, locked."""
    if not gifts:
        return [], []
    streams = sorted({g.command.context_id for g in gifts if g.command.context_kind == "live"})
    hosts = sorted({g.recipients[0][0] for g in gifts if g.recipients})
    since = min(g.command.received_at for g in gifts)
    goals, sides = [], []
    for r in await conn.fetch(*bound(_READ, streams=streams, hosts=hosts, since=since)):
        row = r["row"]
        if r["kind"] == "goal":
            goals.append(
                Goal(
                    row["goal_id"],
                    row["creator_id"],
                    row["stream_id"],
                    row["metric"],
                    row["gift_code"],
                    row["target"],
                    _datetime(row["deadline"]),
                    row["progress"],
                    row["version"],
                )
            )
        else:
            sides.append(
                Side(
                    row["battle_id"],
                    row["side"],
                    row["host_id"],
                    row["score"],
                    row["version"],
                    _datetime(row["started_at"]),
                    _datetime(row["ends_at"]),
                )
            )
    return goals, sides


def events_of(
    moves: list[GoalMove], sides: list[Side], gifts: Sequence[Accepted], new_id=uuid4
) -> list[Envelope]:
    """Each moved goal's GoalProgressed (and GoalReached, caused by the gift that reached it),
    each scored side's BattleScored, numbered after the row's last version."""
    by_gift = {g.gift_id: g for g in gifts}
    out = []
    for m in moves:
        g, version = m.goal, m.goal.version
        version += 1
        out.append(
            new_envelope(
                SOURCE,
                GoalProgressed(
                    goal_id=g.goal_id,
                    creator_id=g.creator_id,
                    stream_id=g.stream_id,
                    progress=g.progress,
                    target=g.target,
                ),
                aggregate_id=f"goal-{g.goal_id}",
                aggregate_version=version,
                subject=g.creator_id,
                event_id=new_id(),
            )
        )
        if m.reached_by is not None:
            version += 1
            gift = by_gift[m.reached_by]
            out.append(
                new_envelope(
                    SOURCE,
                    GoalReached(
                        goal_id=g.goal_id,
                        creator_id=g.creator_id,
                        stream_id=g.stream_id,
                        target=g.target,
                        progress=g.progress,
                        gift_id=str(m.reached_by),
                    ),
                    aggregate_id=f"goal-{g.goal_id}",
                    aggregate_version=version,
                    subject=g.creator_id,
                    causation_id=gift.event_id,
                    event_id=new_id(),
                )
            )
    for s in sides:
        out.append(
            new_envelope(
                SOURCE,
                BattleScored(battle_id=s.battle_id, side=s.side, host_id=s.host_id, score=s.score),
                aggregate_id=f"battle-{s.battle_id}-{s.side}",
                aggregate_version=s.version + 1,
                subject=s.host_id,
                event_id=new_id(),
            )
        )
    return out


async def tally(conn: asyncpg.Connection, topic: str, gifts: Sequence[Accepted]) -> None:
    """Reads, decides and writes what the batch's accepted gifts do to goals and battles: one
    read per batch whatever its size, and one write when anything moved."""
    goals, sides = await read(conn, gifts)
    if not goals and not sides:
        return
    moves = tally_goals(list(gifts), goals)
    scored = tally_sides(list(gifts), sides)
    events = events_of(moves, scored, gifts)
    if not events:
        return
    reached = [
        (m.goal.goal_id, m.reached_by, e.id, m.goal.progress)
        for m in moves
        if m.reached_by is not None
        for e in events
        if e.type == "GoalReached" and e.data["goal_id"] == m.goal.goal_id
    ]
    await conn.execute(
        *bound(
            _WRITE,
            topic=topic,
            **columns(
                (
                    (
                        m.goal.goal_id,
                        m.goal.progress,
                        m.goal.version + 1 + (m.reached_by is not None),
                    )
                    for m in moves
                ),
                "goal_ids",
                "goal_progress",
                "goal_versions",
            ),
            **columns(
                reached, "reached_goals", "reached_gifts", "reached_events", "reached_progress"
            ),
            **columns(
                ((s.battle_id, s.side, s.score, s.version + 1) for s in scored),
                "side_battles",
                "side_numbers",
                "side_scores",
                "side_versions",
            ),
            **columns(
                ((e.id, e.aggregateid, e.aggregateversion, e.type, encode(e)) for e in events),
                "event_ids",
                "streams",
                "versions",
                "types",
                "values",
            ),
        )
    )
