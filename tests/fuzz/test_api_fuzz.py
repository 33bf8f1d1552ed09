"""schemathesis against every HTTP service's own OpenAPI schema, served by the real processes
on real PostgreSQL and Kafka: no 5xx, and every response matches the documented schema."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from eventkit.auth import mint_token

EXAMPLES_PER_OPERATION = 25


def fuzz(operation, token: str, tried: dict[str, int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, \
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        case.validate_response(response, checks=[response_schema_conformance])
        tried[operation.label] = tried.get(operation.label, 0) + 1

    check()


@pytest.mark.parametrize("service", ["recharge", "gifting", "payout", "projections"])
def test_no_server_errors_and_responses_match_the_schema(system, service):
    base = system.url(service)
    schema = schemathesis.openapi.from_dict(httpx.get(f"{base}/openapi.json").json())
    schema.config.update(base_url=base)
    # admin too: admin routes are fuzzed past their role check (their 403 is in test_security)
    token = mint_token(system.settings, f"fuzz-{service}", roles=["fan", "creator", "admin"])
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        fuzz(result.ok(), token, tried)
    print(f"\nschemathesis {service}: {sum(tried.values())} requests over {len(tried)} operations")
    assert tried, "no operation was exercised"
