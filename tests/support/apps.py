"""In-process HTTP clients for a service app (lifespan run, real PostgreSQL behind it)."""

import uuid
from contextlib import asynccontextmanager

import httpx

from eventkit.auth import mint_token
from eventkit.settings import Settings


@asynccontextmanager
async def api_client(create, settings: Settings):
    app = create(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def auth(settings: Settings, user_id: str, key: str | None = None, **claims) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {mint_token(settings, user_id, **claims)}",
        "Idempotency-Key": key or str(uuid.uuid4()),
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
