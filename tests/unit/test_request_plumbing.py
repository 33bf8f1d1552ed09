"""What every API request passes through, kept lean (docs/performance.md, "Write path"): no
middleware for features left off, the caller and the Idempotency-Key resolved without extra
dependency levels, no access-log formatting, and a fingerprint equal to the one stored before."""

import httpx
import pytest
from fastapi import APIRouter
from fastapi._body_limit import AppBodyLimitMiddleware
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from fastapi.telemetry._asgi import ExceptionTelemetryMiddleware
from pydantic import BaseModel
from starlette.requests import Request

from eventkit import service
from eventkit.auth import CallerDep, mint_token
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, fingerprint, request_hash
from eventkit.settings import Settings
from services.gifting.api import create as gifting


def _layers(app) -> list[type]:
    found, layer = [], app.build_middleware_stack()
    while layer is not None and not isinstance(layer, APIRouter):
        found.append(type(layer))
        layer = getattr(layer, "app", None)
    return found


def test_the_stack_has_no_middleware_for_telemetry_or_a_framework_body_limit():
    layers = _layers(gifting(Settings()))
    assert ExceptionTelemetryMiddleware not in layers
    assert AppBodyLimitMiddleware not in layers
    assert [t.__name__ for t in layers] == [
        "ServerErrorMiddleware",
        "RedMiddleware",
        "_LimitBody",
        "ExceptionMiddleware",
        "AsyncExitStackMiddleware",
    ]


def _gift_route() -> APIRoute:
    app = gifting(Settings())
    app.openapi()  # resolves the included routers' routes
    for route in app.router.routes:
        original = getattr(route, "original_router", None)
        for r in getattr(original, "routes", ()):
            if isinstance(r, APIRoute) and r.path.endswith("/gifts") and "POST" in r.methods:
                return r
    raise AssertionError("no POST /v1/gifts")


def test_the_caller_is_one_security_dependency_and_the_key_a_header_of_the_route():
    route = _gift_route()
    (caller,) = [d for d in route.dependant.dependencies if isinstance(d.call, SecurityBase)]
    assert caller.dependencies == []  # no HTTPBearer under a function: one level
    assert "idempotency-key" in [p.alias for p in route.dependant.header_params]
    assert all(not d.dependencies for d in route.dependant.dependencies)  # none nested


async def _answer(app, headers: dict) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/x", json={"a": 1}, headers=headers)


@pytest.fixture
def echo_app():
    router = APIRouter()

    class Body(BaseModel):
        a: int

    @router.post("/x")
    async def x(body: Body, caller: CallerDep, key: IdempotencyKey) -> dict:
        return {"user": caller.user_id, "key": key}

    return create_app("t", "t", Settings(), [router])


async def test_the_caller_and_key_are_read_and_refused_as_before(echo_app):
    settings = Settings()
    token = mint_token(settings, "fan-1")
    ok = await _answer(echo_app, {"Authorization": f"bearer {token}", "Idempotency-Key": "k"})
    assert ok.status_code == 200 and ok.json() == {"user": "fan-1", "key": "k"}
    for bad in ("", "Bearer", "Basic abc", f"Token {token}"):
        r = await _answer(echo_app, {"Authorization": bad, "Idempotency-Key": "k"})
        assert r.status_code == 401 and r.json()["detail"] == "missing bearer token", bad
    missing = await _answer(echo_app, {"Authorization": f"Bearer {token}"})
    assert missing.status_code == 400
    assert missing.json()["type"].endswith("/idempotency-key-required")
    long = await _answer(
        echo_app, {"Authorization": f"Bearer {token}", "Idempotency-Key": "k" * 201}
    )
    assert long.status_code == 422
    assert long.json()["errors"][0]["loc"] == ["header", "idempotency-key"]


@pytest.mark.parametrize("path", ["/v1/gifts", "/v1/a%3Fb", "/v1/a?b#c\\d", "/v1/ü"])
def test_the_fingerprint_is_the_one_request_url_gave(path):
    class Body(BaseModel):
        a: int

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"x=1",
        "headers": [(b"host", b"example:8002")],
        "server": ("127.0.0.1", 8002),
        "scheme": "http",
    }
    request, body = Request(scope), Body(a=1)
    assert fingerprint(request, body) == request_hash(
        f"POST {request.url.path}", body.model_dump(mode="json")
    )


def test_the_api_is_served_without_access_log_formatting(monkeypatch):
    seen = {}
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    service.serve(object(), Settings(), 1234)  # type: ignore[arg-type]
    assert seen["access_log"] is False
    assert seen["loop"] == "uvloop" and seen["http"] == "httptools"


def test_the_services_routes_are_tried_before_the_probes_and_metrics():
    included = [
        getattr(r, "original_router", None)
        for r in gifting(Settings()).router.routes
        if getattr(r, "original_router", None) is not None
    ]
    paths = [[route.path for route in router.routes] for router in included]
    assert paths[-2:] == [["/healthz", "/readyz"], ["/metrics"]]
