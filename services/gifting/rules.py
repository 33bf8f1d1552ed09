"""Pure gifting rules: who may send or receive (the combo a gift belongs to: gift_decide)."""

from dataclasses import dataclass
from datetime import date, datetime

from policy.eligibility import Policy, refusal


@dataclass(frozen=True)
class Profile:
    country: str | None
    birthdate: date | None
    account_type: str


def sender_refusal(policy: Policy, sender: Profile, now: datetime) -> str | None:
    return refusal(policy, sender.country, sender.birthdate, sender.account_type, now)


def earner_refusal(policy: Policy, earner: Profile, now: datetime) -> str | None:
    """Why this account may not earn coins: receive a gift, list an item, be paid for an
    unlock. The same rules as spending (age, region, account type)."""
    return refusal(policy, earner.country, earner.birthdate, earner.account_type, now)


def recipient_refusal(policy: Policy, recipient: Profile | None, now: datetime) -> str | None:
    if recipient is None:
        return "recipient is unknown to gifting (no account profile yet)"
    why = earner_refusal(policy, recipient, now)
    return f"recipient cannot receive gifts: {why}" if why else None
