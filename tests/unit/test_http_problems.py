"""What eventkit's app factory answers where FastAPI/Starlette would answer on their own
(in-process over ASGI, no database): each answer is a typed problem+json, as documented."""

import httpx
import pytest
from fastapi import APIRouter

from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey
from eventkit.settings import Settings


@pytest.fixture
def client():
    router = APIRouter()

    @router.post("/things")
    async def create_thing(body: dict[str, int], key: IdempotencyKey) -> dict:
        return {"key": key, **body}

    @router.get("/things")
    async def list_things() -> list:
        return []

    @router.delete("/things/{thing}")
    async def delete_thing(thing: str) -> dict:
        return {}

    app = create_app("t", "t", Settings(), [router])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def problem(r: httpx.Response) -> tuple[int, str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


async def test_a_command_without_an_idempotency_key_is_refused_with_400(client):
    async with client:
        assert problem(await client.post("/things", json={"a": 1})) == (
            400,
            "idempotency-key-required",
        )
        # the missing key is named even when the body is invalid too
        assert problem(await client.post("/things", json={"a": "x"})) == (
            400,
            "idempotency-key-required",
        )
        ok = await client.post("/things", json={"a": 1}, headers={"Idempotency-Key": "k1"})
        assert ok.status_code == 200 and ok.json() == {"key": "k1", "a": 1}
        assert problem(
            await client.post("/things", json={"a": 1}, headers={"Idempotency-Key": ""})
        ) == (422, "validation-error")


async def test_an_undecodable_body_is_a_typed_400(client):
    async with client:
        r = await client.post(
            "/things",
            content=b'{"a": "\xff\xfe"}',
            headers={"Idempotency-Key": "k", "content-type": "application/json"},
        )
    assert problem(r) == (400, "malformed-body")


async def test_a_405_allows_every_method_of_the_path(client):
    async with client:
        r = await client.request("OPTIONS", "/things")
        assert problem(r) == (405, "http-405")
        assert r.headers["allow"] == "GET, POST"
        r = await client.get("/things/x")
        assert problem(r) == (405, "http-405") and r.headers["allow"] == "DELETE"
