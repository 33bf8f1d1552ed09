"""The one wiring of recharge, used by every role that needs more than the shared plumbing: the
API (its lifespan calls `wire` with the app's pool) and the worker (`bootstrap` opens the pool as
well). The sandbox provider delivers its webhooks over HTTP when RECHARGE_SANDBOX_WEBHOOK_URL is
set, else in-process through the webhook route (`receiver`), so no address needs configuring."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import asyncpg
import httpx
from fastapi import Depends, FastAPI, Request

from eventkit.db import create_pool, when_database_answers
from eventkit.settings import Settings, narrowed
from eventkit.webhooks import asgi_deliver, http_deliver
from services.recharge.sandbox import SandboxProvider
from services.recharge.settings import RechargeSettings

WEBHOOK_PATH = "/v1/webhooks/sandbox"


@dataclass
class Recharge:
    """What recharge's roles share beyond the shared settings."""

    settings: RechargeSettings
    pool: asyncpg.Pool
    provider: SandboxProvider
    client: httpx.AsyncClient

    async def close(self) -> None:
        """Graceful stop: deliveries already scheduled get a moment to land (the worker
        redelivers any that do not). The pool is its opener's to close."""
        try:
            async with asyncio.timeout(5):
                await self.provider.drain()
        except TimeoutError:
            pass
        await self.client.aclose()


def wire(local: RechargeSettings, pool: asyncpg.Pool, receiver: FastAPI) -> Recharge:
    client = httpx.AsyncClient(timeout=10)
    if local.sandbox_webhook_url:
        deliver = http_deliver(client, local.sandbox_webhook_url)
    else:
        deliver = asgi_deliver(receiver, WEBHOOK_PATH)
    provider = SandboxProvider(
        pool,
        local.webhook_secret,
        deliver,
        local.sandbox_delay_seconds,
        local.sandbox_retry_seconds,
    )
    return Recharge(local, pool, provider, client)


@asynccontextmanager
async def bootstrap(
    settings: Settings, local: RechargeSettings | None = None
) -> AsyncIterator[Recharge]:
    """Recharge for a process without a server (the worker): its own pool, and the webhook
    route alone as the in-process delivery target (same middleware and checks as over HTTP)."""
    from services.recharge.api import receiver

    local = local or narrowed(settings, RechargeSettings)
    pool = await when_database_answers(
        lambda: create_pool(settings.database_for("recharge"), min_size=1, max_size=5)
    )
    try:
        recharge = wire(local, pool, receiver(settings, local, pool))
        try:
            yield recharge
        finally:
            await recharge.close()
    finally:
        await pool.close()


async def _provider(request: Request) -> SandboxProvider:
    return request.app.state.provider


async def _settings(request: Request) -> RechargeSettings:
    return request.app.state.recharge_settings


ProviderDep = Annotated[SandboxProvider, Depends(_provider)]
RechargeSettingsDep = Annotated[RechargeSettings, Depends(_settings)]
