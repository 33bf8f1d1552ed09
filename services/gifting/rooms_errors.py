"""The refusals of rooms, room gifts, battles and goals (docs/multi-guest.md)."""

from eventkit.problems import DomainError


class RoomNotFound(DomainError):
    status, code, title = 404, "room-not-found", "No such multi-guest room"


class RoomOwned(DomainError):
    status, code, title = 403, "room-owned", "This room belongs to another host"


# 422, not 403 as a self-gift: the room's shares make the gift one the sender pays themselves,
# a request that cannot mean anything whoever sends it while the sender is on the room.
class SenderIsRecipient(DomainError):
    status, code, title = (
        422,
        "sender-is-recipient",
        "The sender is one of the gift's recipients",
    )


class HostIsGuest(DomainError):
    status, code, title = 422, "host-is-guest", "The host is a recipient once, not also a guest"


class GoalNotFound(DomainError):
    status, code, title = 404, "goal-not-found", "No such LIVE goal"


class GoalExists(DomainError):
    status, code, title = 409, "goal-exists", "A goal with this id was set differently"


class BattleNotFound(DomainError):
    status, code, title = 404, "battle-not-found", "No such battle"


class BattleBusy(DomainError):
    status, code, title = (
        409,
        "battle-busy",
        "A side's host is already in an open battle (a gift counts for one side at most)",
    )
