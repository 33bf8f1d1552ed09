"""The Idempotency-Key fingerprint of a request body (eventkit.idempotency.request_hash)."""

from eventkit.idempotency import request_hash


def test_a_body_with_an_integer_beyond_64_bits_still_has_a_fingerprint():
    # schemathesis sent {"rates_version": 5511458336044799666159616}: orjson could not write it
    # and the route answered 500 before it could refuse the value.
    huge = {"diamonds": 2000, "rates_version": 5511458336044799666159616}
    assert request_hash("POST /v1/payouts", huge) == request_hash("POST /v1/payouts", dict(huge))
    assert request_hash("POST /v1/payouts", huge) != request_hash(
        "POST /v1/payouts", {**huge, "rates_version": 1}
    )


def test_the_fingerprint_ignores_key_order_and_names_the_route():
    a = request_hash("POST /v1/gifts", {"a": 1, "b": [1, 2]})
    assert a == request_hash("POST /v1/gifts", {"b": [1, 2], "a": 1})
    assert a != request_hash("PUT /v1/items", {"a": 1, "b": [1, 2]})
