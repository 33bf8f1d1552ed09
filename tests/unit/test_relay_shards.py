"""The relays' share of the outbox shards (eventkit.relay_shards.plan/quota), no database."""

from eventkit.relay_shards import SHARDS, plan, quota


def test_quotas_cover_every_shard_for_any_number_of_relays():
    for members in range(1, SHARDS + 3):
        assert quota(members) * members >= SHARDS
    assert quota(0) == SHARDS  # a relay that counts nobody (itself not yet visible) takes all


def test_a_relay_over_its_share_gives_up_its_highest_shards_and_takes_none():
    held = set(range(SHARDS))
    release, take = plan(held, held, members=3)
    assert release == list(range(quota(3), SHARDS)) and take == []


def test_a_relay_under_its_share_tries_only_shards_nobody_holds():
    held, others = {0, 1}, set(range(2, 40))
    release, take = plan(held, held | others, members=2)
    assert release == [] and sorted(take) == list(range(40, SHARDS))
