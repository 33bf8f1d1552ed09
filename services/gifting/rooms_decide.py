"""Whom a gift is for and whether every one of them may receive it, as pure functions over what
the batch read: a gift to a creator is for that creator alone (10,000 bp); a gift to a room is
for the room's recipients with the shares in force, and one recipient who may not receive
refuses the whole gift (no partial gift: the sender is debited once, for all of them)."""

from datetime import datetime

from eventkit.problems import DomainError
from policy.eligibility import Policy
from schemas.events.gifting import WHOLE_BP
from services.gifting.errors import RecipientNotEligible, RecipientNotFound
from services.gifting.rooms_errors import RoomNotFound, SenderIsRecipient
from services.gifting.rules import Profile, recipient_refusal

Shares = tuple[tuple[str, int], ...]  # (creator, share_bp), host first
Room = tuple[int, Shares]  # (room version, shares in force)


def recipients_of(
    sender: str, creator_id: str | None, room_id: str | None, rooms: dict[str, Room]
) -> Shares | DomainError:
    if room_id is None:
        assert creator_id is not None  # GiftCreate names one of the two
        return ((creator_id, WHOLE_BP),)
    room = rooms.get(room_id)
    if room is None:
        return RoomNotFound(f"no room {room_id}")
    shares = room[1]
    if sender in {c for c, _ in shares}:
        return SenderIsRecipient(f"{sender} is a recipient of room {room_id}'s gifts")
    return shares


def recipients_refusal(
    shares: Shares,
    profiles: dict[str, Profile],
    banned_from_receive: frozenset[str],
    policy: Policy,
    now: datetime,
) -> DomainError | None:
    """The first recipient (host first) who may not receive, as the gift's refusal, or None. A
    single recipient's refusal reads as it always did; a room's names the recipient."""
    several = len(shares) > 1
    for creator, _ in shares:
        who = f"{creator}: " if several else ""
        profile = profiles.get(creator)
        if profile is None:
            return RecipientNotFound(f"{creator} is unknown to gifting")
        why = recipient_refusal(policy, profile, now)
        if why:
            return RecipientNotEligible(who + why)
        if creator in banned_from_receive:
            return RecipientNotEligible(who + "recipient is banned from receiving gifts")
    return None


def every_recipient(
    creators: list[str | None], room_ids: list[str | None], rooms: dict[str, Room]
) -> list[str]:
    """Every creator the batch's gifts may be for (to read their profiles and bans at once)."""
    out = {c for c in creators if c is not None}
    for room_id in room_ids:
        if room_id in rooms:
            out.update(c for c, _ in rooms[room_id][1])
    return sorted(out)
