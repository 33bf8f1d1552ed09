"""Pure gifting rules: combos and who may send or receive."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from services.rules.eligibility import Policy, refusal


@dataclass(frozen=True)
class Combo:
    combo_id: UUID
    count: int
    last_at: datetime


def next_combo(previous: Combo | None, now: datetime, window: timedelta, quantity: int) -> Combo:
    """The same gift again within `window` of the last one continues the combo (count grows by
    the quantity sent); otherwise a new combo starts."""
    if previous is not None and now - previous.last_at <= window:
        return Combo(previous.combo_id, previous.count + quantity, now)
    return Combo(uuid4(), quantity, now)


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
