"""The gift decisions of one batch, as pure functions over the rows the batch read.

Commands are decided in arrival order against running state: several gifts from one fan are
each checked against the balance the previous one left, and several gifts of one combo each
continue the count the previous one reached. No I/O here: gift_store reads the rows and writes
what these functions decide.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from eventkit.auth import Caller
from eventkit.problems import DomainError
from policy.eligibility import Policy
from schemas.events.gifting import ContextKind
from services.gifting.catalog import GiftPrice
from services.gifting.errors import PriceChanged
from services.gifting.rooms_decide import Room, Shares, recipients_of, recipients_refusal
from services.gifting.rules import Profile
from services.gifting.spend_decide import Draw, Replay, Wallet, debit, spender_refusal


@dataclass(frozen=True)
class GiftCommand:
    """One POST /v1/gifts, validated and priced, waiting for its batch."""

    caller: Caller
    key: str
    fingerprint: str
    creator_id: str | None  # None for a gift to a room (room_id)
    context_kind: ContextKind
    context_id: str
    price: GiftPrice
    catalog_version: int | None  # the catalog the sender was shown, when named
    received_at: datetime  # the app's clock: age and combos are judged at this instant
    room_id: str | None = None  # a multi-guest gift: to the room's recipients (rooms_decide)

    @property
    def claim(self) -> tuple[str, str]:
        return self.caller.user_id, self.key

    @property
    def target(self) -> str:
        """Whom the gift names: its creator, or its room (a combo continues per target)."""
        return self.creator_id if self.creator_id is not None else f"room:{self.room_id}"

    @property
    def combo_key(self) -> tuple[str, str, str, str, str]:
        return (
            self.caller.user_id,
            self.target,
            self.context_kind,
            self.context_id,
            self.price.gift_code,
        )


@dataclass(frozen=True)
class Combo:
    combo_id: UUID
    count: int
    last_at: datetime


@dataclass(frozen=True)
class BatchRows:
    """What the batch read, with the wallets locked: everything a decision depends on."""

    fresh: frozenset[tuple[str, str]]  # (caller, key) claims this batch won
    wallets: dict[str, Wallet]
    profiles: dict[str, Profile]  # recipients (and callers) gifting knows
    banned_from_gift: frozenset[str]
    banned_from_receive: frozenset[str]
    combos: dict[tuple, Combo] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)  # the rooms named, shares in force


@dataclass(frozen=True)
class Accepted:
    command: GiftCommand
    gift_id: UUID
    event_id: UUID
    balance_after: int
    wallet_version: int
    combo: Combo
    recipients: Shares = ()  # host first, with the shares in force (GiftSent v2)
    draws: tuple[Draw, ...] = ()  # what it took from bonus lots (the rest is purchased coins)
    bonus_after: int = 0  # the wallet's bonus coins after it


Decision = Accepted | Replay | DomainError


def decide(
    commands: list[GiftCommand],
    rows: BatchRows,
    policy: Policy,
    catalog_version: int,
    combo_window: timedelta,
    new_id=uuid4,
) -> list[Decision]:
    wallets = dict(rows.wallets)
    combos = dict(rows.combos)
    out: list[Decision] = []
    for command in commands:
        if command.claim not in rows.fresh:
            out.append(Replay(command))
            continue
        refusal = refuse(command, rows, policy, catalog_version)
        wallet = refusal or debit(wallets, command.caller.user_id, command.price.coins)
        if isinstance(wallet, DomainError):
            out.append(wallet)
            continue
        combo = next_combo(combos.get(command.combo_key), command, combo_window, new_id)
        combos[command.combo_key] = combo
        shares = recipients_of(
            command.caller.user_id, command.creator_id, command.room_id, rows.rooms
        )
        assert not isinstance(shares, DomainError)  # refuse() returned it
        out.append(
            Accepted(
                command,
                new_id(),
                new_id(),
                wallet.balance,
                wallet.version,
                combo,
                shares,
                wallet.draws,
                wallet.bonus,
            )
        )
    return out


def refuse(
    command: GiftCommand,
    rows: BatchRows,
    policy: Policy,
    catalog_version: int,
) -> DomainError | None:
    """Why this gift is refused before its balance is checked (in this order), or None."""
    now = command.received_at
    refusal = spender_refusal(command.caller, rows.banned_from_gift, policy, now)
    if refusal:
        return refusal
    if command.catalog_version not in (None, catalog_version):
        return PriceChanged(
            f"catalog version {command.catalog_version} is no longer in force",
            catalog_version=catalog_version,
        )
    shares = recipients_of(command.caller.user_id, command.creator_id, command.room_id, rows.rooms)
    if isinstance(shares, DomainError):
        return shares
    return recipients_refusal(shares, rows.profiles, rows.banned_from_receive, policy, now)


def next_combo(last: Combo | None, command: GiftCommand, window: timedelta, new_id) -> Combo:
    """The same gift to the same creator and context within the window continues the combo
    (its count grows by the quantity); otherwise a new combo starts."""
    at = command.received_at
    if last is not None and at - last.last_at <= window:
        return replace(last, count=last.count + command.price.quantity, last_at=at)
    return Combo(new_id(), command.price.quantity, at)


def final_combos(decisions: list[Decision]) -> dict[tuple, Combo]:
    """The combo rows to store: the last state of each combo the batch touched."""
    return {d.command.combo_key: d.combo for d in decisions if isinstance(d, Accepted)}


def final_wallets(decisions: list[Decision]) -> dict[str, Wallet]:
    return {
        d.command.caller.user_id: Wallet(d.balance_after, d.wallet_version, bonus=d.bonus_after)
        for d in decisions
        if isinstance(d, Accepted)
    }
