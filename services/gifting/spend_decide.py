"""What every spend batch (gifts, unlocks) decides alike, as pure functions: replays of a used
key, the spender's own refusals, and debits in arrival order against a running balance."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from eventkit.auth import Caller
from eventkit.problems import DomainError, IdempotencyKeyReused
from policy.eligibility import Policy
from services.gifting.errors import InsufficientCoins, NotEligible
from services.gifting.limits_decide import Guard
from services.gifting.rules import Profile, sender_refusal
from services.gifting.spending import spending_banned

# (status, body, replayed) or the refusal, per command
Outcome = tuple[int, dict, bool] | DomainError


class Command(Protocol):
    """What the shared steps need of a batched command (GiftCommand, UnlockCommand)."""

    @property
    def caller(self) -> Caller: ...
    @property
    def key(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def claim(self) -> tuple[str, str]: ...
    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True)
class Wallet:
    balance: int
    version: int
    # The spending controls its owner's spends pass (limits_store.guarded), with the running
    # totals of the batch; None: unchecked (a wallet read for anything but a spend).
    guard: Guard | None = None


@dataclass(frozen=True)
class Replay:
    """The key was used before: the stored answer is the outcome."""

    command: Command


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: dict


def spender_refusal(
    caller: Caller, banned_from_spending: frozenset[str], policy: Policy, now: datetime
) -> DomainError | None:
    """Why this caller may not spend at all (age, region, account type, a ban), or None."""
    why = sender_refusal(
        policy, Profile(caller.country, caller.birthdate, caller.account_type), now
    )
    if why:
        return NotEligible(why)
    if caller.user_id in banned_from_spending:
        return spending_banned()
    return None


def debit(wallets: dict[str, Wallet], user_id: str, coins: int) -> Wallet | DomainError:
    """Takes `coins` from the running state of `wallets` (updated in place) when it covers
    them and the owner's spending controls let them go: the next spend of the same user in the
    batch sees the balance, and the spend totals, this one left."""
    wallet = wallets.get(user_id)
    if wallet is None:
        return InsufficientCoins(f"{coins} coins needed", balance=0)
    guard = wallet.guard
    refusal = guard.refusal(coins) if guard else None
    if refusal:
        return refusal
    if wallet.balance < coins:
        return InsufficientCoins(f"{coins} coins needed", balance=wallet.balance)
    wallets[user_id] = after = Wallet(
        wallet.balance - coins, wallet.version + 1, guard.counted(coins) if guard else None
    )
    return after


def replayed(answer: StoredAnswer, fingerprint: str) -> Outcome:
    """The outcome of a key used before: its stored answer, unless the body differs."""
    if answer.request_hash != fingerprint:
        return IdempotencyKeyReused(
            "this Idempotency-Key was first used with a different request body"
        )
    return answer.status, answer.body, True
