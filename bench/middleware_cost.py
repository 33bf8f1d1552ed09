"""CPU cost per request of eventkit's HTTP stack around a trivial POST route, driven in-process
over ASGI (no sockets, no database), so it isolates the framework + middleware overhead:
`python -m bench.middleware_cost`."""

import time

import httpx
import uvloop
from fastapi import APIRouter

from eventkit.http import create_app
from eventkit.settings import Settings


def _app():
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    return create_app("t", "t", Settings(), [router])


async def measure(n: int = 3000) -> float:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(200):
            await client.post("/echo", json={"a": 1})
        cpu = time.process_time()
        for _ in range(n):
            r = await client.post("/echo", json={"a": 1})
        assert r.status_code == 200
        return (time.process_time() - cpu) / n * 1e6


if __name__ == "__main__":
    best = min(uvloop.run(measure()) for _ in range(3))
    print(f"{best:.0f} µs CPU per request (client + app, in-process)")
