"""Every error a route documents is problem+json, as the handlers answer (FastAPI would
document its own HTTPValidationError body for 422); body routes document 413, routes that need
a dependency 503."""

import re

import pytest

from eventkit.settings import Settings
from services.gifting.api import create as gifting
from services.payout.api import create as payout
from services.payout.conversion import load_config
from services.projections.api import create as projections
from services.recharge.api import create as recharge

# The OAuth token endpoint answers its errors in RFC 6749 §5.2's format, as OAuth clients read.
OAUTH_ERRORS = {("/oauth/token", "400"), ("/oauth/token", "401")}


@pytest.mark.parametrize("create", [recharge, gifting, payout, projections])
def test_every_documented_error_is_problem_json(create):
    schema = create(Settings()).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        if path in ("/healthz", "/readyz"):  # their own JSON status body
            continue
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if (path, status) in OAUTH_ERRORS:
                    assert "application/json" in response["content"], (method, path, status)
                elif int(status) >= 400:
                    assert list(response.get("content", {})) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
            if "requestBody" in op:
                assert "413" in op["responses"], (method, path)
            assert "503" in op["responses"], (method, path)


def test_a_routes_own_problems_stay_beside_the_generic_ones():
    responses = gifting(Settings()).openapi()["paths"]["/v1/gifts"]["post"]["responses"]
    examples = responses["403"]["content"]["application/problem+json"]["examples"]
    assert {"self-gift", "recipient-not-eligible", "not-eligible"} <= set(examples)
    assert (
        "recipient-not-found" in responses["404"]["content"]["application/problem+json"]["examples"]
    )
    examples = responses["422"]["content"]["application/problem+json"]["examples"]
    assert set(examples) == {"validation-error", "sender-is-recipient"}


# The document and the handlers agree on what schemathesis (tests/fuzz) checks: a required
# header is marked required, every auth route documents 401 (403 where a role is required),
# body routes document the 400 of an undecodable body, and a 405 names every method of its path.

SERVICES = [recharge, gifting, payout, projections]


def _operations(create):
    for path, operations in create(Settings()).openapi()["paths"].items():
        for method, op in operations.items():
            yield method, path, op


def _examples(op, status: str) -> set[str]:
    content = op["responses"].get(status, {}).get("content", {})
    return set(content.get("application/problem+json", {}).get("examples", {}))


@pytest.mark.parametrize("create", SERVICES)
def test_the_idempotency_key_is_a_required_header_refused_with_400(create):
    commands = 0
    for method, path, op in _operations(create):
        keys = [p for p in op.get("parameters", []) if p["name"].lower() == "idempotency-key"]
        if keys:
            commands += 1
            assert keys[0]["in"] == "header" and keys[0]["required"] is True, (method, path)
            assert "idempotency-key-required" in _examples(op, "400"), (method, path)
    assert commands or create is projections


@pytest.mark.parametrize("create", SERVICES)
def test_every_route_that_checks_a_token_documents_401_and_a_role_403(create):
    for method, path, op in _operations(create):
        requirements = op.get("security", [])
        if any(requirements):
            assert "unauthorized" in _examples(op, "401"), (method, path)
        if any(scopes for r in requirements for scopes in r.values()):
            assert "forbidden" in _examples(op, "403"), (method, path)
        if "requestBody" in op:
            assert "malformed-body" in _examples(op, "400"), (method, path)


def test_admin_routes_name_the_admin_role_and_the_public_catalog_allows_no_token():
    paths = recharge(Settings()).openapi()["paths"]
    assert paths["/v1/admin/bans"]["post"]["security"] == [{"HTTPBearer": ["admin"]}]
    assert {} in paths["/v1/catalog"]["get"]["security"]
    assert paths["/v1/purchases"]["post"]["security"] == [{"HTTPBearer": []}]


# A schema-valid request is refused with 422 only for what the document itself says; a refusal
# that depends on state or on data that changes without a new document (the catalog, the rates,
# the clock, the buyer's country) is a 403/404/409. The 422s left are validation errors and the
# refusals of a signed provider body, which no client of the document sends.

SIGNED_BODY_PROBLEMS = {"bad-webhook", "webhook-mismatch", "bad-callback"}
# Outside an enum the document lists, refused by the handler against the config in force.
ENUM_PROBLEMS = {"unsupported-currency", "country-not-served"}


@pytest.mark.parametrize("create", [recharge, payout])
def test_a_schema_valid_request_gets_422_only_for_a_rule_the_document_states(create):
    for method, path, op in _operations(create):
        assert (
            _examples(op, "422") <= {"validation-error"} | SIGNED_BODY_PROBLEMS | ENUM_PROBLEMS
        ), (method, path, _examples(op, "422"))
    paths = create(Settings()).openapi()["paths"]
    if create is recharge:
        assert {"amount-out-of-range", "currency-mismatch", "over-daily-limit"} <= _examples(
            paths["/v1/purchases"]["post"], "409"
        )
        assert "unknown-payment-method" in _examples(paths["/v1/purchases"]["post"], "404")
        assert "expiry-in-past" in _examples(paths["/v1/admin/bans"]["post"], "409")
    else:
        for method, path in [("post", "/v1/payouts"), ("get", "/v1/payouts/quote")]:
            assert "below-minimum" in _examples(paths[path][method], "409"), (method, path)


def test_a_purchase_body_is_one_of_a_bundle_and_a_custom_amount():
    schema = recharge(Settings()).openapi()
    body = schema["paths"]["/v1/purchases"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    refs = [variant["$ref"].rsplit("/", 1)[1] for variant in body["oneOf"]]
    assert refs == ["BundlePurchase", "CustomPurchase"]
    for name, own, other in [
        ("BundlePurchase", "bundle_id", "custom_coins"),
        ("CustomPurchase", "custom_coins", "bundle_id"),
    ]:
        variant = schema["components"]["schemas"][name]
        # Each forbids the other's field, so exactly one variant validates any body.
        assert variant["additionalProperties"] is False and variant["required"] == [own]
        assert other not in variant["properties"]


def test_payout_currencies_are_the_configured_ones_as_an_enum():
    configured = sorted(load_config().rates.usd_per_unit)
    schema = payout(Settings()).openapi()
    components = schema["components"]["schemas"]

    def enum(s: dict) -> list[str]:
        return next(v["enum"] for v in s.get("anyOf", [s]) if v.get("type") == "string")

    assert enum(components["BankMethod"]["properties"]["currency"]) == configured
    assert enum(components["PaypalMethod"]["properties"]["currency"]) == configured
    assert enum(components["PayoutCreate"]["properties"]["currency"]) == configured
    quote = schema["paths"]["/v1/payouts/quote"]["get"]["parameters"]
    assert enum(next(p["schema"] for p in quote if p["name"] == "currency")) == configured


@pytest.mark.parametrize(
    "create, model, field",
    [
        (payout, "Rejection", "detail"),
        (payout, "BankMethod", "account_holder"),
        (recharge, "BanCreate", "reason"),
        (recharge, "BanLift", "reason"),
    ],
)
def test_blank_text_is_refused_by_the_document(create, model, field):
    prop = create(Settings()).openapi()["components"]["schemas"][model]["properties"][field]
    text = next(v for v in prop.get("anyOf", [prop]) if v.get("type") == "string")
    pattern = re.compile(text["pattern"])
    for blank in ["", " ", "\t\n", "\u00a0\u3000"]:
        assert not pattern.search(blank), (model, field, blank)
    assert pattern.search("beneficiary account closed")
