"""Battles: sides (creators, or rooms counted for their host) compete for a duration; every gift
to a side's host in [started_at, ends_at) adds its coins to that side's score, decided by the
gift batch that commits it (goals_store) and published as BattleScored. A host is on one open
battle at a time, so a gift counts for one side at most. A side's host ends the battle (at or
after its end, or early), which records the final scores once (BattleEnded)."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import uuid4

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit import problems
from eventkit.auth import CallerDep, UserId
from eventkit.codec import new_envelope
from eventkit.db import create_pool
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import append
from eventkit.idempotency import IdempotencyKey, respond_once
from eventkit.settings import Settings
from eventkit.ticks import every
from schemas import topics
from schemas.events.rooms import MAX_RECIPIENTS, BattleEnded, BattleSide, BattleStarted, SideScore
from schemas.text import Id
from services.gifting.rooms_errors import BattleBusy, BattleNotFound, RoomNotFound

SOURCE = "/coinstream/gifting"
ENDS_EVERY_SECONDS = 2.0
log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["battles"])
BattleId = Annotated[Id, Path(examples=["0b6f..."])]


class SideCreate(BaseModel):
    """A creator, or a room (whose gifts count for its host)."""

    model_config = ConfigDict(
        extra="forbid",
        # What _one_of checks, said in the document: one of the two, not both.
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["creator_id"],
                    "properties": {"creator_id": {"type": "string"}, "room_id": {"type": "null"}},
                },
                {
                    "required": ["room_id"],
                    "properties": {"room_id": {"type": "string"}, "creator_id": {"type": "null"}},
                },
            ]
        },
    )

    creator_id: UserId | None = None
    room_id: Id | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "SideCreate":
        if (self.creator_id is None) == (self.room_id is None):
            raise ValueError("a side names exactly one of creator_id and room_id")
        return self


class BattleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sides": [{"room_id": "room-1"}, {"creator_id": "creator-2"}],
                    "duration_seconds": 300,
                }
            ]
        },
    )

    sides: list[SideCreate] = Field(min_length=2, max_length=MAX_RECIPIENTS)
    duration_seconds: int = Field(ge=30, le=3600)


class SidePublic(BaseModel):
    side: int
    host_id: str
    room_id: str | None
    score: int


class BattlePublic(BaseModel):
    battle_id: str
    started_by: str
    started_at: datetime
    ends_at: datetime
    ended: bool
    sides: list[SidePublic]
    winner_side: int | None = None


async def battle_public(conn: asyncpg.Connection, battle_id: str) -> BattlePublic | None:
    b = await conn.fetchrow(
        "SELECT battle_id, started_by, started_at, ends_at, ended FROM battles"
        " WHERE battle_id = $1",
        battle_id,
    )
    if b is None:
        return None
    sides = [
        SidePublic(**dict(r))
        for r in await conn.fetch(
            "SELECT side, host_id, room_id, score FROM battle_sides WHERE battle_id = $1"
            " ORDER BY side",
            battle_id,
        )
    ]
    return BattlePublic(**dict(b), sides=sides, winner_side=winner(sides) if b["ended"] else None)


def winner(sides: list[SidePublic]) -> int | None:
    """The side with the highest score; a tie at the top has no winner."""
    top = max(s.score for s in sides)
    leaders = [s.side for s in sides if s.score == top]
    return leaders[0] if len(leaders) == 1 else None


async def resolve_sides(conn: asyncpg.Connection, sides: list[SideCreate]) -> list[BattleSide]:
    out = []
    for n, s in enumerate(sides):
        if s.room_id is not None:
            host = await conn.fetchval("SELECT host_id FROM rooms WHERE room_id = $1", s.room_id)
            if host is None:
                raise RoomNotFound(f"no room {s.room_id}")
            out.append(BattleSide(side=n, host_id=host, room_id=s.room_id))
        else:
            assert s.creator_id is not None
            out.append(BattleSide(side=n, host_id=s.creator_id))
    return out


@router.post(
    "/battles",
    status_code=201,
    summary="Start a battle between creators or rooms (a side's host)",
    responses=problems.problem_responses(
        problems.Unauthorized,
        problems.Forbidden,
        RoomNotFound,
        BattleBusy,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def start_battle(
    body: BattleCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> BattlePublic:
    """Starts now and lasts `duration_seconds`; records BattleStarted. The caller must host one
    of the sides; each host may be on one side and one open battle (409 `battle-busy`)."""

    async def work(conn: asyncpg.Connection):
        sides = await resolve_sides(conn, body.sides)
        hosts = sorted({s.host_id for s in sides})
        if len(hosts) != len(sides):
            raise BattleBusy("a host may be on one side only")
        if caller.user_id not in hosts:
            raise problems.Forbidden("only a side's host starts a battle")
        # Serialise battle starts per host (in host order: no deadlock), so two battles started
        # at once cannot both take the same host.
        for h in hosts:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('battle-host:' || $1))", h)
        busy = await conn.fetchval(
            "SELECT host_id FROM battle_sides"
            " WHERE host_id = ANY($1::text[]) AND open AND ends_at > $2 LIMIT 1",
            hosts,
            now,
        )
        if busy:
            raise BattleBusy(f"{busy} is already in an open battle")
        battle_id, ends_at = str(uuid4()), now + timedelta(seconds=body.duration_seconds)
        await conn.execute(
            "INSERT INTO battles (battle_id, started_by, started_at, ends_at)"
            " VALUES ($1, $2, $3, $4)",
            battle_id,
            caller.user_id,
            now,
            ends_at,
        )
        await conn.executemany(
            "INSERT INTO battle_sides (battle_id, side, host_id, room_id, ends_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(battle_id, s.side, s.host_id, s.room_id, ends_at) for s in sides],
        )
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                BattleStarted(
                    battle_id=battle_id,
                    started_by=caller.user_id,
                    sides=tuple(sides),
                    started_at=now,
                    ends_at=ends_at,
                ),
                aggregate_id=f"battle-{battle_id}",
                aggregate_version=1,
                subject=caller.user_id,
            ),
        )
        out = await battle_public(conn, battle_id)
        assert out is not None
        return 201, out.model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, BattlePublic)


@router.post(
    "/battles/{battle_id}/end",
    summary="End a battle and record its final scores (a side's host)",
    responses=problems.problem_responses(problems.Unauthorized, problems.Forbidden, BattleNotFound),
)
async def end_battle(
    battle_id: BattleId, caller: CallerDep, pool: PoolDep, now: ClockDep
) -> BattlePublic:
    """Records BattleEnded once, with the scores final (gifts after it count for no side); an
    ended battle answers its final state again."""
    async with pool.acquire() as conn, conn.transaction():
        b, sides = await lock(conn, battle_id)
        if b is None:
            raise BattleNotFound(f"no battle {battle_id}")
        if caller.user_id not in {s["host_id"] for s in sides} and not caller.has("admin"):
            raise problems.Forbidden("only a side's host ends a battle")
        if not b["ended"]:
            await close(conn, battle_id, b, sides, min(now, b["ends_at"]), caller.user_id)
        out = await battle_public(conn, battle_id)
        assert out is not None
        return out


async def lock(conn: asyncpg.Connection, battle_id: str) -> tuple:
    """The battle row, then its sides, locked (a gift batch holding a side finishes first)."""
    b = await conn.fetchrow(
        "SELECT ended, version, ends_at FROM battles WHERE battle_id = $1 FOR UPDATE", battle_id
    )
    sides = await conn.fetch(
        "SELECT side, host_id, score FROM battle_sides WHERE battle_id = $1"
        " ORDER BY side FOR UPDATE",
        battle_id,
    )
    return b, sides


async def close(conn: asyncpg.Connection, battle_id: str, b, sides, at: datetime, by: str) -> None:
    """Ends a locked open battle at `at`: its sides closed (a batch that waited on them re-reads
    them closed and adds nothing), BattleEnded with the final scores."""
    scores = tuple(SideScore(**dict(s)) for s in sides)
    top = winner([SidePublic(room_id=None, **dict(s)) for s in sides])
    await conn.execute(
        "UPDATE battles SET ended = true, version = version + 1, ends_at = $2 WHERE battle_id = $1",
        battle_id,
        at,
    )
    await conn.execute(
        "UPDATE battle_sides SET open = false, ends_at = $2 WHERE battle_id = $1", battle_id, at
    )
    await append(
        conn,
        topics.GIFTING_EVENTS,
        new_envelope(
            SOURCE,
            BattleEnded(battle_id=battle_id, scores=scores, winner_side=top, ended_at=at),
            aggregate_id=f"battle-{battle_id}",
            aggregate_version=b["version"] + 1,
            subject=by,
        ),
    )


async def end_due(pool: asyncpg.Pool, now: datetime, limit: int = 100) -> int:
    """Ends the battles whose time is up (gifting-worker, every few seconds), each in its own
    transaction, at its ends_at: BattleEnded is recorded without a host calling /end. A battle
    a host ended meanwhile is skipped (its row says ended once locked)."""
    due = await pool.fetch(
        "SELECT battle_id FROM battles WHERE NOT ended AND ends_at <= $1 ORDER BY ends_at LIMIT $2",
        now,
        limit,
    )
    for r in due:
        async with pool.acquire() as conn, conn.transaction():
            b, sides = await lock(conn, r["battle_id"])
            if not b["ended"]:
                await close(conn, r["battle_id"], b, sides, b["ends_at"], "platform")
    return len(due)


async def run(settings: Settings) -> None:
    """gifting-worker's battle ending: every ENDS_EVERY_SECONDS."""
    pool = await create_pool(settings.database_for("gifting"))
    try:
        await every(
            ENDS_EVERY_SECONDS,
            lambda: _ended(pool),
            log,
        )
    finally:
        await pool.close()


async def _ended(pool: asyncpg.Pool) -> dict[str, int]:
    return {"battles ended": await end_due(pool, datetime.now(UTC))}


@router.get(
    "/battles/{battle_id}",
    summary="A battle and each side's score as gifting counts it",
    responses=problems.problem_responses(problems.Unauthorized, BattleNotFound),
)
async def get_battle(battle_id: BattleId, caller: CallerDep, pool: PoolDep) -> BattlePublic:
    async with pool.acquire() as conn:
        out = await battle_public(conn, battle_id)
    if out is None:
        raise BattleNotFound(f"no battle {battle_id}")
    return out
