"""Pure gifting rules: who may send or receive; the combo a gift belongs to."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from services.rules.eligibility import Policy, refusal


@dataclass(frozen=True)
class Combo:
    """A gift's combo, as gifts.py's statement (_SEND) continued or started it."""

    combo_id: UUID
    count: int
    last_at: datetime


@dataclass(frozen=True)
class Profile:
    country: str | None
    birthdate: date | None
    account_type: str


def sender_refusal(policy: Policy, sender: Profile, today: date) -> str | None:
    return refusal(policy, sender.country, sender.birthdate, sender.account_type, today)


def recipient_refusal(policy: Policy, recipient: Profile | None, today: date) -> str | None:
    if recipient is None:
        return "recipient is unknown to gifting (no account profile yet)"
    why = refusal(policy, recipient.country, recipient.birthdate, recipient.account_type, today)
    return f"recipient cannot receive gifts: {why}" if why else None
