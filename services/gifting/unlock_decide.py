"""The unlock decisions of one batch, as pure functions over the rows the batch read.

Commands are decided in arrival order against running state, with the refusals checked in the
order one unlock alone has always checked them: the item, its owner being the caller, an item
already unlocked (answered with the original unlock, whatever else is wrong now), the spender,
the price shown, the owner's right to earn, the balance. A (user, item) pair is unlocked once:
a second unlock of it, in this batch or a later one, is answered with the first. No I/O here:
unlock_store reads the rows and writes what these functions decide.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from eventkit.auth import Caller
from eventkit.problems import DomainError
from policy.eligibility import Policy
from services.gifting.errors import ItemNotFound, PriceChanged, RecipientNotEligible, SelfUnlock
from services.gifting.rules import Profile, earner_refusal
from services.gifting.spend_decide import Draw, Replay, Wallet, debit, spender_refusal


@dataclass(frozen=True)
class UnlockCommand:
    """One POST /v1/unlocks, validated, waiting for its batch."""

    caller: Caller
    key: str
    fingerprint: str
    item_id: str
    coins: int  # the price the caller was shown
    received_at: datetime  # the app's clock: ages are judged at this instant

    @property
    def claim(self) -> tuple[str, str]:
        return self.caller.user_id, self.key

    @property
    def pair(self) -> tuple[str, str]:
        """What is unlocked once: (user, item)."""
        return self.caller.user_id, self.item_id


@dataclass(frozen=True)
class Item:
    owner_id: str | None  # None: a platform item, with no owner to pay or check
    coins: int
    owner: Profile | None  # the owner's profile; None when gifting does not know the owner
    owner_banned: bool  # from receiving coins


@dataclass(frozen=True)
class Unlocked:
    """An unlock made: stored by an earlier batch, or accepted earlier in this one."""

    unlock_id: UUID
    coins: int
    balance_after: int
    unlocked_at: datetime


@dataclass(frozen=True)
class UnlockRows:
    """What the batch read, with the wallets locked: everything a decision depends on."""

    fresh: frozenset[tuple[str, str]]  # (caller, key) claims this batch won
    items: dict[str, Item]
    unlocked: dict[tuple[str, str], Unlocked]  # (user, item) pairs unlocked before this batch
    wallets: dict[str, Wallet]
    banned_from_gift: frozenset[str]
    now: datetime  # the transaction's clock: when this batch's unlocks are made


@dataclass(frozen=True)
class Accepted:
    command: UnlockCommand
    item: Item
    unlock: Unlocked
    event_id: UUID
    wallet_version: int
    draws: tuple[Draw, ...] = ()  # what it took from bonus lots (the rest is purchased coins)
    bonus_after: int = 0  # the wallet's bonus coins after it


@dataclass(frozen=True)
class AlreadyUnlocked:
    """Charged nothing: the answer is the pair's first unlock."""

    command: UnlockCommand
    unlock: Unlocked


Decision = Accepted | AlreadyUnlocked | Replay | DomainError


def decide(
    commands: list[UnlockCommand], rows: UnlockRows, policy: Policy, new_id=uuid4
) -> list[Decision]:
    wallets = dict(rows.wallets)
    unlocked = dict(rows.unlocked)
    out: list[Decision] = []
    for command in commands:
        if command.claim not in rows.fresh:
            out.append(Replay(command))
            continue
        item = rows.items.get(command.item_id)
        if item is None:
            out.append(ItemNotFound(command.item_id))
        elif item.owner_id == command.caller.user_id:
            out.append(SelfUnlock("the item's owner cannot unlock it"))
        elif command.pair in unlocked:
            out.append(AlreadyUnlocked(command, unlocked[command.pair]))
        else:
            wallet = refuse(command, item, rows, policy) or debit(
                wallets, command.caller.user_id, item.coins
            )
            if isinstance(wallet, DomainError):
                out.append(wallet)
                continue
            unlock = Unlocked(new_id(), item.coins, wallet.balance, rows.now)
            unlocked[command.pair] = unlock
            out.append(
                Accepted(
                    command, item, unlock, new_id(), wallet.version, wallet.draws, wallet.bonus
                )
            )
    return out


def refuse(
    command: UnlockCommand, item: Item, rows: UnlockRows, policy: Policy
) -> DomainError | None:
    """Why this unlock of an item not yet unlocked is refused before its balance is checked
    (in this order), or None."""
    now = command.received_at
    refusal = spender_refusal(command.caller, rows.banned_from_gift, policy, now)
    if refusal:
        return refusal
    if item.coins != command.coins:
        return PriceChanged(
            f"{command.item_id} now costs {item.coins} coins, not {command.coins}",
            coins=item.coins,
        )
    why = owner_refusal(item, policy, now)
    return RecipientNotEligible(why) if why else None


def owner_refusal(item: Item, policy: Policy, now: datetime) -> str | None:
    """Why the item's owner may not earn from an unlock (the rules of a gift's recipient)."""
    if item.owner_id is None:
        return None
    if item.owner is None:
        return "the item's owner is unknown to gifting (no account profile yet)"
    why = earner_refusal(policy, item.owner, now)
    if why:
        return f"the item's owner cannot earn: {why}"
    if item.owner_banned:
        return "the item's owner is banned from receiving coins"
    return None


def final_wallets(decisions: list[Decision]) -> dict[str, Wallet]:
    """The wallet rows to store: the last state of each wallet the batch debited."""
    return {
        d.command.caller.user_id: Wallet(
            d.unlock.balance_after, d.wallet_version, bonus=d.bonus_after
        )
        for d in decisions
        if isinstance(d, Accepted)
    }
