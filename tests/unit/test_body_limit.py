"""The body-size limit of every service (eventkit.http), over ASGI in-process: declared and
chunked bodies over the limit get 413 problem+json; bodies within it reach the route intact."""

import httpx
import pytest
from fastapi import APIRouter

from eventkit.http import create_app
from eventkit.settings import Settings

LIMIT = 64


@pytest.fixture
def client():
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    @router.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    app = create_app("t", "t", Settings(max_body_bytes=LIMIT), [router])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_body_within_the_limit_reaches_the_route(client):
    async with client:
        r = await client.post("/echo", json={"a": "x" * 10})
    assert r.status_code == 200 and r.json() == {"a": "x" * 10}


async def test_a_declared_length_over_the_limit_is_refused(client):
    async with client:
        r = await client.post("/echo", json={"a": "x" * LIMIT})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/payload-too-large")


async def test_a_non_numeric_length_is_refused(client):
    async with client:
        r = await client.post(
            "/echo",
            content=b"{}",
            headers={"content-length": "2x", "content-type": "application/json"},
        )
    assert r.status_code == 413


async def _chunks(*parts: bytes):
    for p in parts:
        yield p


async def test_a_chunked_body_over_the_limit_is_refused(client):
    async with client:
        r = await client.post(
            "/echo",
            content=_chunks(b'{"a": "', b"x" * LIMIT, b'"}'),
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 413


async def test_a_chunked_body_within_the_limit_is_replayed_whole(client):
    async with client:
        r = await client.post(
            "/echo",
            content=_chunks(b'{"a": ', b'"yz"}'),
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 200 and r.json() == {"a": "yz"}


async def test_requests_without_a_body_pass(client):
    async with client:
        assert (await client.get("/ping")).json() == {"ok": True}
