"""The refusals of live events, tickets and fan levels (typed problems, as errors.py)."""

from eventkit.problems import DomainError


class LiveEventNotFound(DomainError):
    status, code, title = 404, "live-event-not-found", "No such live event"


class SoldOut(DomainError):
    status, code, title = 409, "sold-out", "Every ticket of this live event is sold"


class LiveEventClosed(DomainError):
    # Started or cancelled: its state names which; nothing can be bought, started or cancelled.
    status, code, title = 409, "live-event-closed", "The live event has started or was cancelled"


class TooEarlyToStart(DomainError):
    status, code, title = (
        409,
        "live-event-too-early",
        "The live event cannot start this long before its start time",
    )


class InvalidStartTime(DomainError):
    # 409, not 422: the body is well formed (the schema cannot say "in the future"); the time
    # it names is not one an event can start at now.
    status, code, title = (
        409,
        "invalid-start-time",
        "The start time must lie in the future, within the scheduling horizon",
    )


class SelfTicket(DomainError):
    status, code, title = 403, "self-ticket", "A creator cannot buy a ticket to their own event"


class FanLevelTooLow(DomainError):
    # 403 like the other "not you, not now" refusals: the body is valid, this fan's level is not
    # high enough (`level_needed`, `level`); gifting more to the creator raises it.
    status, code, title = 403, "fan-level-too-low", "This gift needs a higher fan level"
