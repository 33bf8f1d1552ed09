"""GiftSent v2 (a gift split between recipients) and the v1 -> v2 upcast in the codec: every
consumer reads v2, whichever version was sent."""

from decimal import Decimal

import orjson
import pytest

from eventkit.codec import PoisonMessage, decode, encode, new_envelope
from schemas.events.gifting import GiftSentV2
from schemas.upcast import upcast
from services.payout.conversion import diamonds_for
from services.payout.handlers import credits_of
from services.projections.projector import fast_decode
from tests.unit.test_schemas import gift


def v2(recipients, coins=100, rate="1", **overrides) -> GiftSentV2:
    fields = gift(coins=coins, quantity=coins, unit_price=1).model_dump(exclude={"creator_id"})
    return GiftSentV2(
        **{
            **fields,
            "diamonds_per_coin": rate,
            "recipients": [{"creator_id": c, "share_bp": bp} for c, bp in recipients],
            **overrides,
        }
    )


def test_a_v1_gift_reaches_consumers_as_v2_with_its_creator_at_the_whole_gift():
    raw = encode(new_envelope("/test", gift(), aggregate_id="wallet-fan", aggregate_version=1))
    for envelope, payload in (decode(raw), fast_decode(raw)):
        assert envelope.dataversion == 1  # the envelope says what was sent
        assert isinstance(payload, GiftSentV2)
        assert [(r.creator_id, r.share_bp) for r in payload.recipients] == [("cr", 10_000)]
        assert payload.host == "cr" and payload.coins == gift().coins
        assert payload.model_dump(exclude={"recipients"}) == gift().model_dump(
            exclude={"creator_id"}
        )


def test_a_v2_gift_decodes_as_itself():
    g = v2([("host", 6000), ("guest", 4000)])
    raw = encode(new_envelope("/test", g, aggregate_id="wallet-fan", aggregate_version=1))
    assert orjson.loads(raw)["dataversion"] == 2
    assert decode(raw)[1] == g == fast_decode(raw)[1] == upcast(g)


@pytest.mark.parametrize(
    ("recipients", "reason"),
    [
        ([("a", 5000), ("b", 4999)], "sum to 10000"),
        ([("a", 5000), ("a", 5000)], "recipient once"),
        ([], "at least 1 item"),
        ([(f"c{i}", 1000) for i in range(10)], "at most 9 items"),
        ([("a", 0), ("b", 10_000)], "greater than or equal to 1"),
        ([("a", 10_001)], "less than or equal to 10000"),
    ],
)
def test_a_v2_gift_whose_shares_do_not_make_one_gift_is_poison(recipients, reason):
    good = v2([("a", 10_000)])
    doc = orjson.loads(encode(new_envelope("/t", good, aggregate_id="w", aggregate_version=1)))
    doc["data"]["recipients"] = [{"creator_id": c, "share_bp": bp} for c, bp in recipients]
    with pytest.raises(PoisonMessage, match=f"bad GiftSent v2 payload: .*{reason}"):
        decode(orjson.dumps(doc))


def test_guests_get_their_floor_and_the_host_the_rounding_so_diamonds_sum_exactly():
    g = v2([("host", 5000), ("a", 3333), ("b", 1667)], coins=1001, rate="0.333")
    split = g.split()
    # a: floor(1001 x 0.3333 x 0.333) = floor(111.10...) ; b: floor(1001 x 0.1667 x 0.333)
    assert [(s.creator_id, s.diamonds) for s in split] == [("host", 167), ("a", 111), ("b", 55)]
    assert sum(s.diamonds for s in split) == diamonds_for(1001, Decimal("0.333")) == 333
    assert [s.coins for s in split] == [502, 333, 166] and sum(s.coins for s in split) == 1001


def test_the_split_is_exact_where_decimal_arithmetic_would_round():
    """28 significant digits are not enough for coins x share x rate here; integers are."""
    coins, rate = 10**15 - 1, "9999999999999999.999999999999"
    g = v2([("host", 1), ("guest", 9999)], coins=coins, rate=rate)
    numerator = coins * 9999 * 9999999999999999999999999999
    guest = numerator // (10_000 * 10**12)
    host, got_guest = g.split()
    assert got_guest.diamonds == guest
    assert host.diamonds + got_guest.diamonds == coins * 9999999999999999999999999999 // 10**12


def test_payout_credits_each_recipient_its_share():
    g = v2([("host", 7000), ("guest", 3000)], coins=10, rate="0.5")
    got = [(c.creator_id, c.coins, c.diamonds, c.source_id) for c in credits_of(g)]
    assert got == [("host", 7, 4, g.gift_id), ("guest", 3, 1, g.gift_id)]
    # a v1 payload validated by hand (no codec) is credited as its upcast
    assert [(c.creator_id, c.diamonds) for c in credits_of(gift(coins=3, quantity=3))] == [
        ("cr", 3)
    ]
