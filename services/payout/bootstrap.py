"""The one wiring of payout's worker role: the payout settings and config, a pool, and the
sandbox provider posting its callbacks to the payout API (PAYOUT_CALLBACK_URL, else this host's
PAYOUT_PORT). The API needs only the shared plumbing (eventkit.http opens its pool) and the
same settings and config, which `create` reads the same way."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx

from eventkit.db import create_pool, when_database_answers
from eventkit.settings import Settings, narrowed
from services.payout.conversion import PayoutConfig, load_config
from services.payout.provider import SandboxProvider, http_deliver
from services.payout.settings import PayoutSettings


@dataclass
class Payout:
    """What payout's worker needs beyond the shared settings."""

    settings: PayoutSettings
    config: PayoutConfig
    pool: asyncpg.Pool
    provider: SandboxProvider


@asynccontextmanager
async def bootstrap(
    settings: Settings, local: PayoutSettings | None = None
) -> AsyncIterator[Payout]:
    local, config = local or narrowed(settings, PayoutSettings), load_config()
    pool = await when_database_answers(
        lambda: create_pool(settings.database_for("payout"), min_size=1, max_size=5)
    )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            provider = SandboxProvider.from_config(
                pool,
                config.sandbox,
                local.callback_secret,
                http_deliver(http, local.sandbox_callback_url()),
            )
            yield Payout(local, config, pool, provider)
    finally:
        await pool.close()
