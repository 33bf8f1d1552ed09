"""Every error a route documents is problem+json, as the handlers answer (FastAPI would
document its own HTTPValidationError body for 422); body routes document 413, routes that need
a dependency 503."""

import pytest

from eventkit.settings import Settings
from services.gifting.api import create as gifting
from services.payout.api import create as payout
from services.projections.api import create as projections
from services.recharge.api import create as recharge


@pytest.mark.parametrize("create", [recharge, gifting, payout, projections])
def test_every_documented_error_is_problem_json(create):
    schema = create(Settings()).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        if path in ("/healthz", "/readyz"):  # their own JSON status body
            continue
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response.get("content", {})) == ["application/problem+json"], \
                        (method, path, status)
            if "requestBody" in op:
                assert "413" in op["responses"], (method, path)
            assert "503" in op["responses"], (method, path)


def test_a_routes_own_422_problems_stay_beside_the_validation_error():
    responses = gifting(Settings()).openapi()["paths"]["/v1/gifts"]["post"]["responses"]
    examples = responses["422"]["content"]["application/problem+json"]["examples"]
    assert {"self-gift", "recipient-not-eligible", "validation-error"} <= set(examples)
