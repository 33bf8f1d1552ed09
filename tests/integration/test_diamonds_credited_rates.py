"""DiamondsCredited carries the rates its figures were derived with, so any reader can
recompute `diamonds` and `held` from the event alone."""

from decimal import ROUND_DOWN, Decimal

from services.payout.conversion import load_config
from tests.support.apps import new_id
from tests.support.creators import consume, content_unlocked, gift_sent


def floor(x: Decimal) -> int:
    return int(x.to_integral_value(rounding=ROUND_DOWN))


async def test_diamonds_and_held_follow_from_the_event_s_own_rates(prepared, pools):
    creator = new_id("cr")
    sources = [
        gift_sent(creator, 777, "0.37"),
        gift_sent(creator, 1001, "1.25"),
        gift_sent(creator, 9, "0.9"),
        content_unlocked(creator, 333, "0.5"),
    ]
    assert await consume(prepared, pools["payout"], *sources) == []
    rows = await pools["payout"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 AND event_type = 'DiamondsCredited'"
        " ORDER BY version",
        f"creator-{creator}",
    )
    credited = [r["envelope"]["data"] for r in rows]
    assert len(credited) == len(sources)
    for source, event in zip(sources, credited, strict=True):
        rate, percent = Decimal(event["diamonds_per_coin"]), Decimal(event["reserve_percent"])
        assert rate == Decimal(source.data["diamonds_per_coin"])  # the rate the gift recorded
        assert percent == load_config().reserve.percent
        assert event["coins"] == source.data["coins"]
        assert event["diamonds"] == floor(event["coins"] * rate)
        assert event["held"] == floor(event["diamonds"] * percent / 100)
    assert [e["held"] for e in credited] == [28, 125, 0, 16]  # 287, 1251, 8, 166 diamonds
