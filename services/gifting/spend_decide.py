"""What every spend batch (gifts, unlocks) decides alike, as pure functions: replays of a used
key, the spender's own refusals, and debits in arrival order against a running balance, each
split into the coins it takes from bonus lots and its purchased rest (docs/bonus-lots.md)."""

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
class Lot:
    """A bonus lot open to spending: unexpired, with coins left."""

    lot_id: str
    remaining: int
    expires_at: datetime | None
    granted_at: datetime


def spend_order(lot: Lot) -> tuple:
    """The lot that expires soonest first, a lot that never expires last; then the oldest
    grant (then the lot id, so the order is total). lots_store reads them in this order."""
    return (lot.expires_at is None, lot.expires_at or lot.granted_at, lot.granted_at, lot.lot_id)


# (lot id, coins) a spend took from that lot
Draw = tuple[str, int]


def drawn(draws: tuple[Draw, ...]) -> int:
    """The coins a spend took from bonus lots: its bonus part."""
    return sum(coins for _, coins in draws)


@dataclass(frozen=True)
class Wallet:
    balance: int
    version: int
    # The spending controls its owner's spends pass (limits_store.guarded), with the running
    # totals of the batch; None: unchecked (a wallet read for anything but a spend).
    guard: Guard | None = None
    bonus: int = 0  # of the balance, the coins left in bonus lots (wallets.bonus)
    lots: tuple[Lot, ...] = ()  # the lots open to spending now, in spend order

    @property
    def purchased(self) -> int:
        """The purchased part; below zero after a chargeback took coins already spent."""
        return self.balance - self.bonus

    @property
    def spendable(self) -> int:
        """A purchased part below zero is a debt that blocks every spend until purchases cover
        it (a chargeback must not leave free bonus coins to spend); otherwise the purchased part
        and the open lots (an expired lot the worker has not yet expired is not open)."""
        if self.purchased < 0:
            return 0
        return self.purchased + sum(lot.remaining for lot in self.lots)


@dataclass(frozen=True)
class Debit:
    """A spend taken from a wallet: the wallet after it, and the lots it drew on."""

    balance: int
    version: int
    bonus: int  # the wallet's bonus coins after the spend
    draws: tuple[Draw, ...] = ()

    @property
    def bonus_coins(self) -> int:
        return drawn(self.draws)


def draw(lots: tuple[Lot, ...], coins: int) -> tuple[tuple[Draw, ...], tuple[Lot, ...]]:
    """Bonus first: takes up to `coins` from `lots` in their order; (the draws, the lots left)."""
    draws: list[Draw] = []
    left: list[Lot] = []
    for lot in lots:
        take = min(coins, lot.remaining)
        if take:
            draws.append((lot.lot_id, take))
            coins -= take
        if lot.remaining > take:
            left.append(Lot(lot.lot_id, lot.remaining - take, lot.expires_at, lot.granted_at))
    return tuple(draws), tuple(left)


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


def debit(wallets: dict[str, Wallet], user_id: str, coins: int) -> Debit | DomainError:
    """Takes `coins` from the running state of `wallets` (updated in place) when it covers
    them and the owner's spending controls let them go, bonus lots first: the next spend of the
    same user in the batch sees the balance, the lots and the spend totals this one left."""
    wallet = wallets.get(user_id)
    if wallet is None:
        return InsufficientCoins(f"{coins} coins needed", balance=0)
    guard = wallet.guard
    refusal = guard.refusal(coins) if guard else None
    if refusal:
        return refusal
    if wallet.spendable < coins:
        return InsufficientCoins(f"{coins} coins needed", balance=wallet.balance)
    draws, lots = draw(wallet.lots, coins) if wallet.lots else ((), ())
    bonus = wallet.bonus - drawn(draws)
    wallets[user_id] = after = Wallet(
        wallet.balance - coins,
        wallet.version + 1,
        guard.counted(coins) if guard else None,
        bonus,
        lots,
    )
    return Debit(after.balance, after.version, bonus, draws)


def replayed(answer: StoredAnswer, fingerprint: str) -> Outcome:
    """The outcome of a key used before: its stored answer, unless the body differs."""
    if answer.request_hash != fingerprint:
        return IdempotencyKeyReused(
            "this Idempotency-Key was first used with a different request body"
        )
    return answer.status, answer.body, True
