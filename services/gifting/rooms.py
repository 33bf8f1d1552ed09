"""Multi-guest rooms: the host names the guests who share the room's gifts and their shares.

Every change of shares is a RoomSharesSet event (a new room version), so the shares in force at
any gift can be replayed; each gift to the room also records them (GiftSent v2's recipients).
A PUT of the shares already in force changes nothing (no new version), so a retry is harmless.
"""

from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit import problems
from eventkit.auth import Caller, CallerDep, UserId
from eventkit.codec import new_envelope
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import append
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.gifting import WHOLE_BP, Recipient
from schemas.events.rooms import MAX_RECIPIENTS, RoomSharesSet
from schemas.text import Id
from services.gifting import accounts
from services.gifting.errors import RecipientNotEligible, RecipientNotFound
from services.gifting.rooms_errors import HostIsGuest, RoomNotFound, RoomOwned
from services.gifting.rules import Profile, earner_refusal

SOURCE = "/coinstream/gifting"
router = APIRouter(prefix="/v1", tags=["rooms"])
RoomId = Annotated[Id, Path(examples=["room-1"])]


class Guest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    creator_id: UserId
    share_bp: int = Field(ge=1, le=WHOLE_BP - 1, description="Basis points of every gift")


class RoomShares(BaseModel):
    """The host's own share and each guest's; together 10,000 basis points."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "host_share_bp": 5000,
                    "guests": [
                        {"creator_id": "creator-2", "share_bp": 3000},
                        {"creator_id": "creator-3", "share_bp": 2000},
                    ],
                }
            ]
        },
    )

    host_share_bp: int = Field(ge=1, le=WHOLE_BP)
    guests: list[Guest] = Field(default=[], max_length=MAX_RECIPIENTS - 1)

    @model_validator(mode="after")
    def _one_whole_gift(self) -> "RoomShares":
        if self.host_share_bp + sum(g.share_bp for g in self.guests) != WHOLE_BP:
            raise ValueError(f"the host's and the guests' shares must sum to {WHOLE_BP} bp")
        ids = [g.creator_id for g in self.guests]
        if len(set(ids)) != len(ids):
            raise ValueError("each guest may be named once")
        return self

    def recipients(self, host_id: str) -> tuple[Recipient, ...]:
        return (
            Recipient(creator_id=host_id, share_bp=self.host_share_bp),
            *(Recipient(creator_id=g.creator_id, share_bp=g.share_bp) for g in self.guests),
        )


class RoomPublic(BaseModel):
    room_id: str
    host_id: str
    version: int
    recipients: list[Recipient] = Field(description="Host first, then the guests")
    updated_at: datetime


def room_public(row: asyncpg.Record) -> RoomPublic:
    return RoomPublic(
        room_id=row["room_id"],
        host_id=row["host_id"],
        version=row["version"],
        recipients=[
            Recipient(creator_id=c, share_bp=bp)
            for c, bp in zip(row["recipients"], row["shares_bp"], strict=True)
        ],
        updated_at=row["updated_at"],
    )


async def check_guests(conn: asyncpg.Connection, host: Caller, guests: list[Guest], now) -> None:
    """The host may earn, and every guest is known to gifting and may earn: a room whose gifts
    would all be refused is refused itself (each gift checks again: a ban can come later)."""
    policy = load_policy()
    why = earner_refusal(policy, Profile(host.country, host.birthdate, host.account_type), now)
    if why:
        raise RecipientNotEligible(f"the host cannot receive gifts: {why}")
    if host.user_id in {g.creator_id for g in guests}:
        raise HostIsGuest(f"{host.user_id} hosts the room")
    for g in guests:
        profile = await accounts.profile(conn, g.creator_id)
        if profile is None:
            raise RecipientNotFound(f"{g.creator_id} is unknown to gifting")
        why = earner_refusal(policy, profile, now)
        if why:
            raise RecipientNotEligible(f"{g.creator_id} cannot receive gifts: {why}")


_UPSERT = """
INSERT INTO rooms AS r (room_id, host_id, recipients, shares_bp)
VALUES ($1, $2, $3::text[], $4::integer[])
ON CONFLICT (room_id) DO UPDATE SET recipients = $3, shares_bp = $4, version = r.version + 1,
    updated_at = now()
WHERE r.host_id = $2 AND (r.recipients, r.shares_bp) IS DISTINCT FROM ($3, $4)
RETURNING room_id, host_id, recipients, shares_bp, version, updated_at
"""
_READ = "SELECT room_id, host_id, recipients, shares_bp, version, updated_at FROM rooms"


@router.put(
    "/rooms/{room_id}",
    summary="Set who shares the gifts of a multi-guest room (its host only)",
    responses=problems.problem_responses(
        problems.Unauthorized,
        problems.Forbidden,
        RoomOwned,
        HostIsGuest,
        RecipientNotFound,
        RecipientNotEligible,
    ),
)
async def put_room(
    room_id: RoomId, body: RoomShares, caller: CallerDep, pool: PoolDep, now: ClockDep
) -> RoomPublic:
    """The caller (a creator) hosts the room: the first PUT creates it, a later one by its host
    sets new shares (a new `version`; the same shares again change nothing). At most 8 guests
    (9 recipients with the host), each once, and shares summing to 10,000 bp, else 422. Every
    guest must be known to gifting (signed in once) and able to receive coins."""
    if not caller.has("creator"):
        raise problems.Forbidden("only creators host rooms")
    recipients = body.recipients(caller.user_id)
    async with pool.acquire() as conn, conn.transaction():
        await check_guests(conn, caller, body.guests, now)
        await accounts.remember_caller(conn, caller)
        row = await conn.fetchrow(
            _UPSERT,
            room_id,
            caller.user_id,
            [r.creator_id for r in recipients],
            [r.share_bp for r in recipients],
        )
        if row is None:  # another host's room, or these shares already in force
            row = await conn.fetchrow(f"{_READ} WHERE room_id = $1", room_id)
            if row["host_id"] != caller.user_id:
                raise RoomOwned(f"{room_id} is hosted by someone else")
            return room_public(row)
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                RoomSharesSet(
                    room_id=room_id,
                    host_id=caller.user_id,
                    room_version=row["version"],
                    recipients=recipients,
                ),
                aggregate_id=f"room-{room_id}",
                aggregate_version=row["version"],
                subject=caller.user_id,
            ),
        )
        return room_public(row)


@router.get(
    "/rooms/{room_id}",
    summary="A room's host, guests and shares in force",
    responses=problems.problem_responses(problems.Unauthorized, RoomNotFound),
)
async def get_room(room_id: RoomId, caller: CallerDep, pool: PoolDep) -> RoomPublic:
    row = await pool.fetchrow(f"{_READ} WHERE room_id = $1", room_id)
    if row is None:
        raise RoomNotFound(f"no room {room_id}")
    return room_public(row)


async def read_rooms(
    conn: asyncpg.Connection, room_ids: list[str]
) -> dict[str, tuple[int, tuple[tuple[str, int], ...]]]:
    """The shares in force of every room a gift batch names, in one statement:
    {room_id: (version, ((creator, share_bp), ...host first))}."""
    if not room_ids:
        return {}
    rows = await conn.fetch(f"{_READ} WHERE room_id = ANY($1::text[])", room_ids)
    return {
        r["room_id"]: (r["version"], tuple(zip(r["recipients"], r["shares_bp"], strict=True)))
        for r in rows
    }
