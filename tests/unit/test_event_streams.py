"""EventStreams.envelope: the one place an aggregate's event gets its stream id, subject and
causation (payments, bans and the payout ledger all emit through it)."""

from uuid import uuid4

from eventkit.streams import EventStreams
from schemas.events.sanctions import TransactionBanLifted

BANS = EventStreams(source="/coinstream/test", topic="coinstream.test", prefix="ban")
LIFT = TransactionBanLifted(ban_id="b-1", user_id="u-1", reason="appeal", source="admin")


def test_an_event_of_a_stream_is_about_the_stream_unless_told_otherwise() -> None:
    event = BANS.envelope("b-1", 2, LIFT)
    assert (event.aggregateid, event.aggregateversion, event.subject) == ("ban-b-1", 2, "ban-b-1")
    assert (event.source, event.type) == ("/coinstream/test", "TransactionBanLifted")
    assert BANS.envelope("b-1", 2, LIFT, "u-1").subject == "u-1"


def test_an_event_starts_its_own_correlation_or_carries_its_cause() -> None:
    first = BANS.envelope("b-1", 1, LIFT)
    assert (first.correlationid, first.causationid) == (first.id, None)
    cause = BANS.envelope(uuid4(), 1, LIFT, cause=first)
    reaction = BANS.envelope("b-2", 1, LIFT, cause=cause)
    assert (reaction.correlationid, reaction.causationid) == (first.id, cause.id)
