"""Read models of battles and of every recipient of a stream's gifts (docs/multi-guest.md):

- `battles` / `battle_sides`: each battle's sides, their scores (BattleScored's running totals
  and BattleEnded's final ones, merged with GREATEST: the order of events does not matter) and
  its end and winner;
- `stream_recipients`: per stream and recipient, the gifts, coins and diamonds of their share
  (GiftSentV2.split, the split payout credits), so a multi-guest room's guests rank too.
"""

from typing import TYPE_CHECKING

from schemas.events.gifting import GiftSentV2
from schemas.events.rooms import BattleEnded, BattleScored, BattleStarted
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

LAST = Column("last_event_time", "timestamptz", MAX)
BATTLES = Table(
    "battles",
    (Column("battle_id", "text"),),
    (
        Column("started_by", "text", MAX),
        Column("started_at", "timestamptz", MIN),
        Column("ends_at", "timestamptz", MIN),  # an early end moves it forward
        Column("ended_at", "timestamptz", MIN),
        Column("winner_side", "integer", MAX),
        LAST,
    ),
)
BATTLE_SIDES = Table(
    "battle_sides",
    (Column("battle_id", "text"), Column("side", "integer")),
    (
        Column("host_id", "text", MAX),
        Column("room_id", "text", MAX),
        Column("score", "bigint", MAX),
        LAST,
    ),
)
STREAM_RECIPIENTS = Table(
    "stream_recipients",
    (Column("stream_id", "text"), Column("creator_id", "text")),
    (Column("gifts", "bigint"), Column("coins", "bigint"), Column("diamonds", "bigint"), LAST),
)
BATTLE_TABLES = (BATTLES, BATTLE_SIDES)
RECIPIENT_TABLES = (STREAM_RECIPIENTS,)


def fold_battles(facts: "list[Fact]") -> list[Rows]:
    battles, sides = BATTLES.rows(), BATTLE_SIDES.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case BattleStarted():
                battles.add(
                    (p.battle_id,),
                    started_by=p.started_by,
                    started_at=p.started_at,
                    ends_at=p.ends_at,
                    last_event_time=t,
                )
                for side in p.sides:
                    sides.add(
                        (p.battle_id, side.side),
                        host_id=side.host_id,
                        room_id=side.room_id,
                        score=0,
                        last_event_time=t,
                    )
            case BattleScored():
                sides.add(
                    (p.battle_id, p.side), host_id=p.host_id, score=p.score, last_event_time=t
                )
            case BattleEnded():
                battles.add(
                    (p.battle_id,),
                    ends_at=p.ended_at,
                    ended_at=p.ended_at,
                    winner_side=p.winner_side,
                    last_event_time=t,
                )
                for s in p.scores:
                    sides.add(
                        (p.battle_id, s.side), host_id=s.host_id, score=s.score, last_event_time=t
                    )
    return [battles, sides]


def fold_stream_recipients(facts: "list[Fact]") -> list[Rows]:
    rows = STREAM_RECIPIENTS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        if not isinstance(p, GiftSentV2) or p.context.kind != "live":
            continue
        for share in p.split():
            rows.add(
                (p.context.id, share.creator_id),
                gifts=1,
                coins=share.coins,
                diamonds=share.diamonds,
                last_event_time=t,
            )
    return [rows]
