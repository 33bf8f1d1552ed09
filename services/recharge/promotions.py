"""Promotions over HTTP: admins create campaigns and issue single-use codes
(/v1/admin/campaigns), users redeem coupons (POST /v1/coupons/redeem). A purchase code rides
on POST /v1/purchases (`promo_code`, purchases.py). Rules and refusals: docs/promotions.md."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit import problems
from eventkit.auth import AdminDep, CallerDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count, Instant, Reason
from eventkit.idempotency import IdempotencyKey, respond_once
from policy.eligibility import load_policy, refusal
from schemas.events.promotions import CampaignCreated, CampaignKind
from schemas.money import Country
from schemas.text import Id
from services.recharge import bans
from services.recharge import promotions_store as promos
from services.recharge.errors import Banned, NotEligible
from services.recharge.promotions_decide import SHARED_CODE_PATTERN, canonical, refuse
from services.recharge.promotions_errors import (
    REDEEM_REFUSALS,
    CampaignNotFound,
    SharedCodeTaken,
)

admin_router = APIRouter(prefix="/v1/admin/campaigns", tags=["promotions (admin)"])
router = APIRouter(prefix="/v1/coupons", tags=["promotions"])
ADMIN_PROBLEMS = (problems.Unauthorized, problems.Forbidden)
KEY_PROBLEMS = (problems.IdempotencyKeyReused, problems.MissingIdempotencyKey)


class CampaignCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Welcome 10%",
                    "kind": "promo_code",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2027-01-01T00:00:00Z",
                    "countries": ["US", "GB"],
                    "max_redemptions": 10000,
                    "per_user_limit": 1,
                    "discount_bp": 1000,
                    "shared_code": "WELCOME10",
                },
                {
                    "name": "Winter coupon",
                    "kind": "coupon",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2027-01-01T00:00:00Z",
                    "max_redemptions": 500,
                    "per_user_limit": 1,
                    "bonus_coins": 100,
                    "bonus_expires_after_days": 30,
                },
            ]
        },
    )

    name: Reason = Field(max_length=200)
    kind: CampaignKind = Field(
        description="promo_code: rides on a purchase (bonus_coins or discount_bp); coupon: "
        "redeemed alone (bonus_coins)"
    )
    starts_at: Instant
    ends_at: Instant = Field(description="After starts_at; codes work in [starts_at, ends_at)")
    countries: list[Country] | None = Field(
        default=None, min_length=1, max_length=250, description="Omitted or null: every country"
    )
    max_redemptions: Count = Field(gt=0, le=10**9, description="Campaign-wide cap")
    per_user_limit: Count = Field(default=1, gt=0, le=1000)
    bonus_coins: Count | None = Field(default=None, gt=0, le=10**7)
    discount_bp: Count | None = Field(
        default=None, ge=1, le=9000, description="Discount in basis points (purchase codes)"
    )
    bonus_expires_after_days: Count | None = Field(default=None, gt=0, le=3650)
    shared_code: str | None = Field(
        default=None,
        pattern=SHARED_CODE_PATTERN,
        description="A code every user may redeem (4-15 letters and digits, dashes ignored); "
        "omit it to hand out single-use codes (POST .../codes) only",
    )

    @model_validator(mode="after")
    def _coherent(self) -> "CampaignCreate":
        if (self.bonus_coins is None) == (self.discount_bp is None):
            raise ValueError("give exactly one of bonus_coins and discount_bp")
        if self.kind == "coupon" and self.bonus_coins is None:
            raise ValueError("a coupon gives bonus_coins")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.shared_code is not None and not 4 <= len(canonical(self.shared_code)) <= 15:
            raise ValueError("shared_code must have 4-15 letters and digits")
        return self


class CampaignPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": "7a1c0e52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "name": "Welcome 10%",
                    "kind": "promo_code",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2027-01-01T00:00:00Z",
                    "countries": ["US", "GB"],
                    "max_redemptions": 10000,
                    "per_user_limit": 1,
                    "bonus_coins": None,
                    "discount_bp": 1000,
                    "bonus_expires_after_days": None,
                    "shared_code": "WELCOME10",
                    "redeemed": 0,
                    "created_by": "ops-1",
                }
            ]
        }
    )

    campaign_id: str
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    countries: list[str] | None
    max_redemptions: int
    per_user_limit: int
    bonus_coins: int | None
    discount_bp: int | None
    bonus_expires_after_days: int | None
    shared_code: str | None
    redeemed: int = Field(description="Uses made or held by pending purchases")
    created_by: str


def _public(row) -> CampaignPublic:
    return CampaignPublic(**{k: row[k] for k in CampaignPublic.model_fields})


@admin_router.post(
    "",
    status_code=201,
    summary="Create a promotion campaign",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, SharedCodeTaken, *KEY_PROBLEMS),
)
async def create_campaign(
    body: CampaignCreate,
    admin: AdminDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    now: ClockDep,
) -> CampaignPublic:
    """Records the campaign and emits `CampaignCreated`; a retry with the same Idempotency-Key
    returns the same campaign. 409 promo-code-taken when another campaign has the shared code."""

    async def work(conn):
        event = CampaignCreated(
            campaign_id=str(uuid4()),
            name=body.name,
            kind=body.kind,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            countries=tuple(dict.fromkeys(body.countries)) if body.countries else None,
            max_redemptions=body.max_redemptions,
            per_user_limit=body.per_user_limit,
            bonus_coins=body.bonus_coins,
            discount_bp=body.discount_bp,
            bonus_expires_after_days=body.bonus_expires_after_days,
            shared_code=canonical(body.shared_code) if body.shared_code else None,
            created_by=admin.user_id,
        )
        row = await promos.create_campaign(conn, event, now)
        return 201, _public(row).model_dump(mode="json")

    return await respond_once(request, response, admin.user_id, key, body, work, CampaignPublic)


@admin_router.get(
    "/{campaign_id}",
    summary="A campaign and how many of its redemptions are taken",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, CampaignNotFound),
)
async def get_campaign(
    campaign_id: Annotated[Id, Path()], admin: AdminDep, pool: PoolDep
) -> CampaignPublic:
    async with pool.acquire() as conn:
        return _public(await promos.campaign(conn, campaign_id))


class CodesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"count": 100}]})

    count: Count = Field(gt=0, le=1000)


class CodesIssued(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": "7a1c0e52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "batch_id": "0b6f3c1e-2a4d-4c55-8e0f-1d2c3b4a5f60",
                    "count": 2,
                    "codes": ["7KQ2-M9XD-4HTR-B0CW", "P3ZV-8N1F-QJ6S-YE5A"],
                }
            ]
        }
    )

    campaign_id: str
    batch_id: str
    count: int
    codes: list[str] | None = Field(
        default=None,
        description="The codes, in this answer only: they are kept hashed, so a replay of the "
        "request answers the batch without them (null)",
    )


@admin_router.post(
    "/{campaign_id}/codes",
    status_code=201,
    summary="Issue a batch of single-use codes",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, CampaignNotFound, *KEY_PROBLEMS),
)
async def issue_codes(
    campaign_id: Annotated[Id, Path()],
    body: CodesCreate,
    admin: AdminDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
) -> CodesIssued:
    """Generates `count` unguessable single-use codes (80 random bits each) and emits
    `PromoCodesIssued` (their number, not the codes). Each code is redeemed once, by anyone,
    within the campaign's caps."""
    codes: list[str] = []

    async def work(conn):
        batch_id, issued = await promos.issue_codes(conn, campaign_id, body.count, admin.user_id)
        codes.extend(issued)
        out = CodesIssued(campaign_id=campaign_id, batch_id=batch_id, count=body.count)
        return 201, out.model_dump(mode="json")  # stored for replays: without the codes

    out = await respond_once(request, response, admin.user_id, key, body, work, CodesIssued)
    return out.model_copy(update={"codes": codes or None})


class CouponRedeem(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "7KQ2-M9XD-4HTR-B0CW"}]}
    )

    code: str = Field(
        min_length=4,
        max_length=24,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]*$",
        description="Any case; dashes and spaces ignored",
    )


class CouponRedeemed(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "redemption_id": "1d2c3b4a-5f60-4c55-8e0f-0b6f3c1e2a4d",
                    "campaign_id": "7a1c0e52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "grant_id": "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4",
                    "coins": 100,
                    "expires_at": "2027-01-01T08:00:00Z",
                    "source": "coupon",
                }
            ]
        }
    )

    redemption_id: UUID
    campaign_id: str
    grant_id: UUID
    coins: int = Field(description="Bonus coins granted (a separate lot in the wallet)")
    expires_at: datetime | None = Field(description="When the bonus coins expire; null: never")
    source: Literal["coupon"] = "coupon"


@router.post(
    "/redeem",
    status_code=201,
    summary="Redeem a coupon for bonus coins",
    responses=problems.problem_responses(
        problems.Unauthorized, NotEligible, Banned, *REDEEM_REFUSALS, *KEY_PROBLEMS
    ),
)
async def redeem_coupon(
    body: CouponRedeem,
    caller: CallerDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    now: ClockDep,
) -> CouponRedeemed:
    """Grants the coupon's bonus coins with no purchase (`PromoRedeemed` and
    `BonusCoinsGranted` on the user's stream; the wallet credits them as a bonus lot). A retry
    with the same Idempotency-Key replays the first answer. Refused (nothing recorded) for an
    unknown code, one outside its window or country, a purchase code, a campaign whose cap or
    the caller's own cap is reached, or a single-use code already used."""
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type, now)
    if why:
        raise NotEligible(why)
    country = caller.country
    assert country is not None  # refusal() refuses an unknown country

    async def work(conn):
        if await bans.active(conn, caller.user_id, "buy", now):
            raise Banned("this account is banned from receiving coins")
        campaign, found = await promos.find(conn, body.code)
        refuse(campaign.refusal("coupon", country, now))
        use = await promos.take(conn, found, body.code, caller.user_id, country, "coupon", now)
        grant = (await promos.redeem(conn, use, now))[-1].data
        out = CouponRedeemed(
            redemption_id=use["redemption_id"],
            campaign_id=campaign.campaign_id,
            grant_id=grant["grant_id"],
            coins=grant["coins"],
            expires_at=grant["expires_at"],
        )
        return 201, out.model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, CouponRedeemed)
