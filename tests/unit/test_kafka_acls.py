"""The ACL table (infra.kafka_access.bindings): what each principal may do, per namespace."""

from eventkit.settings import Settings
from infra.kafka_access import Binding, bindings
from schemas import topics

S = Settings(db_prefix="t1", topic_prefix="t1.")


def allowed(principal: str, operation: str, resource: str = "topic") -> set[str]:
    return {
        b.name
        for b in bindings(S)
        if (b.principal, b.operation, b.resource) == (principal, operation, resource)
    }


def test_each_service_writes_its_own_topics_and_the_dead_letter_topic_only():
    dlq = S.topic(topics.DEAD_LETTER)
    assert allowed("recharge", "WRITE") == {
        S.topic(topics.RECHARGE_EVENTS),
        S.topic(topics.SANCTIONS_EVENTS),
        dlq,
    }
    assert allowed("gifting", "WRITE") == {S.topic(topics.GIFTING_EVENTS), dlq}
    assert allowed("payout", "WRITE") == {S.topic(topics.PAYOUT_EVENTS), dlq}
    assert allowed("accounts", "WRITE") == {S.topic(topics.ACCOUNTS_EVENTS), dlq}
    assert allowed("moderation", "WRITE") == {S.topic(topics.MODERATION_COMMANDS), dlq}
    # projections writes only the dead-letter topic and faust's own internal topics
    assert allowed("projections", "WRITE") == {dlq, "t1-projections-v2-"}


def test_readers_read_what_they_consume_in_their_own_group_and_only_projections_the_dlq():
    assert allowed("gifting", "READ") == {
        S.topic(topics.RECHARGE_EVENTS),
        S.topic(topics.SANCTIONS_EVENTS),
        S.topic(topics.ACCOUNTS_EVENTS),
    }
    assert allowed("recharge", "READ") == {S.topic(topics.MODERATION_COMMANDS)}
    assert not allowed("accounts", "READ") and not allowed("moderation", "READ")
    # the dead-letter topic: only projections reads it (to count dead letters by reason)
    dlq_readers = {
        b.principal for b in bindings(S) if b.operation == "READ" and "deadletter" in b.name
    }
    assert dlq_readers == {"projections"}
    assert allowed("payout", "READ", "group") == {"t1-payout"}
    assert allowed("projections", "READ", "group") == {"t1-projections"} | {"t1-projections-v2"}
    assert allowed("accounts", "READ", "group") == set()


def test_only_faust_internal_topics_are_matched_by_prefix_and_the_admin_needs_no_acl():
    prefixed = [b for b in bindings(S) if b.prefixed]
    assert {(b.principal, b.name) for b in prefixed} == {("projections", "t1-projections-v2-")}
    assert {b.operation for b in prefixed} == {"CREATE", "READ", "WRITE", "DESCRIBE"}
    assert not [b for b in bindings(S) if b.principal == "admin"]  # super.users


def test_the_bindings_follow_the_namespace_prefixes():
    other = bindings(Settings(db_prefix="t2", topic_prefix="t2."))
    assert not set(other) & set(bindings(S))
    assert Binding("gifting", "WRITE", "topic", "t2.coinstream.gifting.events") in other
