import uuid

import orjson
import pytest

from eventkit.codec import PoisonMessage, decode, encode, new_envelope
from schemas import generate
from schemas.events.gifting import GiftContext, GiftSent
from schemas.upcast import upcast


def gift(**overrides) -> GiftSent:
    fields = dict(
        gift_id="g1",
        sender_id="fan",
        creator_id="cr",
        context=GiftContext(kind="live", id="s1"),
        gift_code="rose",
        quantity=3,
        unit_price=1,
        coins=3,
        diamonds_per_coin="1",
        commission_rate="0.5",
        rates_version=1,
        catalog_version=1,
        balance_after=7,
    )
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
    assert payload == upcast(gift())  # consumers read every GiftSent as v2
    assert orjson.loads(encode(env))["data"]["diamonds_per_coin"] == "1"
    assert env.correlationid == env.id and back.specversion == "1.0"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty message"),
        (b"\xff\xfe garbage", "not JSON"),
        (b'{"hello": "world"}', "not a valid envelope"),
    ],
)
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


def _string_schemas(node, where=""):
    """Every string-typed schema in a JSON Schema document, with where it sits."""
    if isinstance(node, dict):
        if node.get("type") == "string":
            yield where, node
        for key, value in node.items():
            yield from _string_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_schemas(value, f"{where}/{i}")


def test_no_published_string_field_admits_nul():
    # PostgreSQL cannot store U+0000: a string that may hold one is a poison pill waiting to
    # happen, so every string in the contract has a pattern (or a const/enum/format) refusing it.
    import json
    import re

    offenders = []
    for name, text in generate.rendered().items():
        for where, node in _string_schemas(json.loads(text)):
            if (
                "const" in node
                or "enum" in node
                or node.get("format") in ("uuid", "date", "date-time")
            ):
                continue
            pattern = node.get("pattern")
            if pattern is None or re.search(pattern, "x\x00y") or re.search(pattern, "\x00"):
                offenders.append(f"{name}{where}")
    assert offenders == []


def _wire(payload, **envelope_changes) -> bytes:
    doc = orjson.loads(encode(new_envelope("/t", payload, aggregate_id="a", aggregate_version=1)))
    doc.update(envelope_changes)
    return orjson.dumps(doc)


def _with_data(raw: bytes, **data_changes) -> bytes:
    doc = orjson.loads(raw)
    doc["data"].update(data_changes)
    return orjson.dumps(doc)


def test_the_issue_s_pills_are_refused_by_the_decoder():
    from schemas.events.accounts import AccountProfileUpdated
    from schemas.events.sanctions import PlaceTransactionBan

    profile = _wire(
        AccountProfileUpdated(
            user_id="x", country="US", birthdate="2000-01-01", account_type="personal"
        )
    )
    with pytest.raises(PoisonMessage, match="bad AccountProfileUpdated v1 payload: user_id"):
        decode(_with_data(profile, user_id="x\u0000y"))
    ban = _wire(PlaceTransactionBan(ban_id="b", user_id="u", scopes=["gift"], reason="spam"))
    with pytest.raises(PoisonMessage, match="bad PlaceTransactionBan v1 payload: reason"):
        decode(_with_data(ban, reason="spam\u0000"))
    with pytest.raises(PoisonMessage, match="context.id"):  # no empty ids (a gift's context)
        decode(_with_data(_raw(), context={"kind": "live", "id": ""}))


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "time",
        "specversion",
        "source",
        "type",
        "dataversion",
        "aggregateid",
        "aggregateversion",
        "correlationid",
        "data",
    ],
)
def test_an_envelope_missing_what_consumers_rely_on_is_poison(field):
    doc = orjson.loads(_raw())
    del doc[field]
    with pytest.raises(PoisonMessage, match=f"not a valid envelope: {field}: Field required"):
        decode(orjson.dumps(doc))


def test_an_envelope_time_without_an_offset_is_poison():
    # A naive time cannot be compared with the aware ones every service computes with.
    with pytest.raises(PoisonMessage, match="not a valid envelope: time"):
        decode(_raw(time="2024-05-01T12:00:00"))


def test_new_envelope_sets_every_required_attribute():
    env = new_envelope("/t", gift(), aggregate_id="w", aggregate_version=1)
    doc = orjson.loads(encode(env))
    required = orjson.loads(generate.rendered()["Envelope.json"])["required"]
    assert all(doc[name] is not None for name in required)
    assert env.time.tzinfo is not None
