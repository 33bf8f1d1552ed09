import uuid

import orjson
import pytest

from eventkit.codec import PoisonMessage, decode, encode, new_envelope
from schemas import generate
from schemas.events.gifting import GiftContext, GiftSent


def gift(**overrides) -> GiftSent:
    fields = dict(gift_id="g1", sender_id="fan", creator_id="cr", context=GiftContext(
        kind="live", id="s1"), gift_code="rose", quantity=3, unit_price=1, coins=3,
        diamonds_per_coin="1", commission_rate="0.5", rates_version=1, catalog_version=1,
        balance_after=7)
    return GiftSent(**{**fields, **overrides})


def test_checked_in_json_schemas_match_the_models():
    assert generate.drift() == [], "run `make schemas` and commit schemas/json"


def test_drift_is_detected_when_a_model_changes(monkeypatch):
    real = generate.rendered

    def edited():
        files = real()
        files["GiftSent.v1.json"] = files["GiftSent.v1.json"].replace('"quantity"', '"qty"')
        return files

    monkeypatch.setattr(generate, "rendered", edited)
    assert generate.drift() == ["GiftSent.v1.json"]


def test_envelope_round_trips_with_exact_decimals():
    env = new_envelope("/test", gift(), aggregate_id="wallet-fan", aggregate_version=4)
    back, payload = decode(encode(env))
    assert back == env
    assert payload == gift()
    assert orjson.loads(encode(env))["data"]["diamonds_per_coin"] == "1"
    assert env.correlationid == env.id and back.specversion == "1.0"


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b"\xff\xfe garbage", "not JSON"),
    (b'{"hello": "world"}', "not a valid envelope"),
])
def test_garbage_is_poison_with_a_reason(raw, reason):
    with pytest.raises(PoisonMessage) as exc:
        decode(raw)
    assert exc.value.reason.startswith(reason)


def _raw(**changes) -> bytes:
    doc = orjson.loads(encode(new_envelope("/t", gift(), aggregate_id="w", aggregate_version=1)))
    doc.update(changes)
    return orjson.dumps(doc)


def test_unknown_type_and_future_version_are_poison():
    with pytest.raises(PoisonMessage, match="unknown event type/version: GiftExploded v1"):
        decode(_raw(type="GiftExploded"))
    with pytest.raises(PoisonMessage, match="unknown event type/version: GiftSent v9"):
        decode(_raw(dataversion=9))


def test_known_type_with_bad_payload_is_poison():
    bad = orjson.loads(_raw())
    bad["data"]["coins"] = -5
    with pytest.raises(PoisonMessage, match="bad GiftSent v1 payload: coins"):
        decode(orjson.dumps(bad))
    with pytest.raises(PoisonMessage, match="id"):
        decode(_raw(id=str(uuid.uuid4())[:8]))
