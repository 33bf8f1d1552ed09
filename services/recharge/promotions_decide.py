"""Pure promotion rules: what a code is (its canonical form, its hash, a new one), whether a
campaign may be redeemed here and now, and what a discount takes off a price.

Codes are compared upper-cased and without dashes or spaces ("welcome-10" is WELCOME10).
A generated single-use code is 16 characters of Crockford's base32 (80 random bits from
`secrets`, shown as XXXX-XXXX-XXXX-XXXX); a shared code has 4-15, so the two never collide."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from eventkit.problems import DomainError
from schemas.events.promotions import CampaignKind
from schemas.money import Money
from services.recharge.pricing import round_minor
from services.recharge.promotions_errors import (
    CodeExpired,
    CodeNotYetValid,
    CodeWrongCountry,
    CodeWrongKind,
    DiscountTooLarge,
)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
GENERATED_LENGTH = 16
SHARED_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{3,19}$"
SHARED_MAX = GENERATED_LENGTH - 1
BASIS = 10_000


def canonical(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def code_hash(code: str) -> bytes:
    return hashlib.sha256(canonical(code).encode()).digest()


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, GENERATED_LENGTH, 4))


def shared_code_fits(code: str) -> bool:
    return 4 <= len(canonical(code)) <= SHARED_MAX


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    kind: CampaignKind
    starts_at: datetime
    ends_at: datetime
    countries: tuple[str, ...] | None
    bonus_coins: int | None
    discount_bp: int | None
    bonus_expires_after_days: int | None

    @classmethod
    def of(cls, row) -> "Campaign":
        countries = row["countries"]
        return cls(
            row["campaign_id"],
            row["kind"],
            row["starts_at"],
            row["ends_at"],
            tuple(countries) if countries is not None else None,
            row["bonus_coins"],
            row["discount_bp"],
            row["bonus_expires_after_days"],
        )

    def refusal(self, used_as: CampaignKind, country: str | None, now: datetime):
        """Why redeeming this campaign's code as `used_as` (on a purchase: promo_code; alone:
        coupon) by a user of `country` at `now` is refused, or None. The caps are taken
        later, in the transaction that records the use."""
        if used_as != self.kind:
            return CodeWrongKind(
                "this is a coupon: redeem it with POST /v1/coupons/redeem"
                if self.kind == "coupon"
                else "this code rides on a purchase: give it as promo_code of POST /v1/purchases"
            )
        if now < self.starts_at:
            return CodeNotYetValid(f"valid from {self.starts_at.isoformat()}")
        if now >= self.ends_at:
            return CodeExpired(f"valid until {self.ends_at.isoformat()}")
        if self.countries is not None and country not in self.countries:
            return CodeWrongCountry(
                f"valid in {', '.join(self.countries)}, not in {country or 'an unknown country'}"
            )
        return None

    def expires_at(self, granted_at: datetime) -> datetime | None:
        """When bonus coins granted at `granted_at` expire (None: never)."""
        days = self.bonus_expires_after_days
        return granted_at + timedelta(days=days) if days else None


def discount_off(price: Money, discount_bp: int) -> Money:
    """What `discount_bp` takes off `price`: half-even to the minor unit, as prices are
    rounded. Refused when nothing would be left to pay."""
    off = round_minor(Decimal(price.amount_minor) * discount_bp / BASIS)
    if off >= price.amount_minor:
        raise DiscountTooLarge(f"{discount_bp} bp off {price.amount_minor} leaves nothing to pay")
    return Money(amount_minor=off, currency=price.currency)


def refuse(error: DomainError | None) -> None:
    if error is not None:
        raise error
