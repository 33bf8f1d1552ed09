"""A user's own spending controls: daily, weekly and monthly limits and a self-exclusion
(PUT and GET /v1/spending-limits). The rules of a change are limits_decide's; every spend
batch enforces them (limits_store.guarded) in its own transaction."""

from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import ConcurrencyConflict, append
from eventkit.fields import Count, Instant
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas import topics
from schemas.events.spending import CoinLimit, SelfExclusion, SpendingLimitsChanged
from services.gifting import limits_store
from services.gifting.limits_decide import (
    PERIODS,
    Controls,
    Period,
    Requested,
    Window,
    change,
)

router = APIRouter(prefix="/v1", tags=["spending limits"])

SOURCE = "/coinstream/gifting"
MAX_LIMIT = 10**12  # coins; far above any wallet, and within bigint
NAMES: dict[Period, str] = {"day": "daily", "week": "weekly", "month": "monthly"}


# The bounds come before Count's validator: after it, pydantic prints the bound of an optional
# field as an unknown key ("ge") that no client reads (as gifts.CatalogVersion).
LimitCoins = Annotated[int, Field(ge=0, le=MAX_LIMIT), *Count.__metadata__]


def _limit_field(period: str):
    return Field(
        default=None,
        description=f"Most coins spent per calendar {period} (UTC); null: no limit. 0 stops "
        "spending. Lower than the limit in force: at once; higher, or null: after 24 hours.",
    )


class SpendingLimitsUpdate(BaseModel):
    """The whole of a user's controls (a field left out is null: none)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"daily": 1000, "weekly": 5000, "monthly": None, "self_excluded_until": None},
                {"self_excluded_until": "2030-01-01T00:00:00Z"},
            ]
        },
    )

    daily: LimitCoins | None = _limit_field("day")
    weekly: LimitCoins | None = _limit_field("week")
    monthly: LimitCoins | None = _limit_field("month")
    self_excluded_until: Instant | None = Field(
        default=None,
        description="No spending at all before this instant. Later than the one in force: at "
        "once; earlier, past or null (ending it early): after 24 hours.",
    )


class LimitPublic(CoinLimit):
    spent: int = Field(description="Coins spent in the current window")
    resets_at: datetime = Field(description="When the current window ends")


class SpendingLimitsPublic(BaseModel):
    daily: LimitPublic
    weekly: LimitPublic
    monthly: LimitPublic
    self_exclusion: SelfExclusion
    version: int = Field(description="0: never set")


def coin_limit(controls: Controls, period: Period) -> CoinLimit:
    s = controls.limit(period)
    return CoinLimit(coins=s.value, pending_coins=s.pending, pending_from=s.pending_from)


def self_exclusion(controls: Controls) -> SelfExclusion:
    e = controls.exclusion
    return SelfExclusion(until=e.value, pending_until=e.pending, pending_from=e.pending_from)


def public(controls: Controls, windows: dict[Period, Window]) -> SpendingLimitsPublic:
    limits = {
        NAMES[p]: LimitPublic(
            **coin_limit(controls, p).model_dump(),
            spent=windows[p].spent,
            resets_at=windows[p].resets_at,
        )
        for p in PERIODS
    }
    return SpendingLimitsPublic(
        **limits, self_exclusion=self_exclusion(controls), version=controls.version
    )


@router.get(
    "/spending-limits",
    summary="The caller's spending limits and self-exclusion, and what they spent so far",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def get_limits(caller: CallerDep, pool: PoolDep, now: ClockDep) -> SpendingLimitsPublic:
    """As they stand now: a pending change whose 24 hours have passed is shown in force."""
    async with pool.acquire() as conn:
        controls, windows = await limits_store.read(conn, caller.user_id)
    return public(controls.settled(now), windows)


@router.put(
    "/spending-limits",
    summary="Set the caller's spending limits and self-exclusion",
    responses=problems.problem_responses(
        problems.Unauthorized, problems.IdempotencyKeyReused, problems.MissingIdempotencyKey
    ),
)
async def put_limits(
    body: SpendingLimitsUpdate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> SpendingLimitsPublic:
    """Replaces the caller's controls and records `SpendingLimitsChanged`. A change that
    protects more (a lower or new limit, a longer self-exclusion) is in force at once, for the
    next spend; one that protects less (a higher limit, removing one, ending or shortening a
    self-exclusion) waits 24 hours (`pending_*`), the old setting in force until then. Asking
    again for what already waits keeps its time; asking for what is in force cancels it.
    Every spend (gifts, unlocks, any other) is refused while over a limit: 403 with the rule
    and `resets_at`."""
    user = caller.user_id
    requested = Requested(
        {"day": body.daily, "week": body.weekly, "month": body.monthly},
        body.self_excluded_until,
    )

    async def work(conn: asyncpg.Connection) -> tuple[int, dict]:
        controls, windows = await limits_store.read(conn, user, lock=True)
        after = change(controls, requested, now)
        if not await limits_store.save(conn, user, after):  # the row is locked: never
            raise ConcurrencyConflict(f"spending-{user} changed while locked")
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                SpendingLimitsChanged(
                    user_id=user,
                    daily=coin_limit(after, "day"),
                    weekly=coin_limit(after, "week"),
                    monthly=coin_limit(after, "month"),
                    self_exclusion=self_exclusion(after),
                ),
                aggregate_id=f"spending-{user}",
                aggregate_version=after.version,
                subject=user,
            ),
        )
        return 200, public(after, windows).model_dump(mode="json")

    return await respond_once(request, response, user, key, body, work, SpendingLimitsPublic)
