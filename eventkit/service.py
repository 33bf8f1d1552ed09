"""The one command line every service shares: `python -m services.<name> <role>`.

Roles: `api` (HTTP), `relay` (outbox -> Kafka), `consumer` (Kafka -> this service's database),
`migrate` (create the database and apply migrations). Each role is its own process so any one can
be killed and restarted alone.
"""

import argparse
import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from fastapi import FastAPI

from eventkit.consumer import BatchHandlers, Handlers, IdempotentConsumer
from eventkit.db import create_pool, migrate, when_database_answers
from eventkit.outbox import OutboxRelay
from eventkit.settings import Settings


@dataclass
class ServiceSpec:
    name: str
    migrations: Path
    app_factory: Callable[[Settings], FastAPI] | None = None
    default_port: int = 8000
    consumed_topics: list[str] = field(default_factory=list)
    handlers: Handlers = field(default_factory=dict)
    batch_handlers: BatchHandlers = field(default_factory=dict)


async def run_consumer(spec: ServiceSpec, settings: Settings) -> None:
    pool = await when_database_answers(lambda: create_pool(settings.database_for(spec.name)))
    try:
        await IdempotentConsumer(
            settings,
            pool,
            f"{settings.db_prefix}-{spec.name}",
            spec.consumed_topics,
            spec.handlers,
            spec.batch_handlers,
        ).run()
    finally:
        await pool.close()


def main(spec: ServiceSpec) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}")
    parser.add_argument("role", choices=["api", "relay", "consumer", "migrate"])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(f"{spec.name.upper()}_PORT", spec.default_port)),
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {spec.name}-{args.role} %(levelname)s %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group chatter drowns the rest
    settings = Settings()
    dsn = settings.database_for(spec.name)
    if args.role == "migrate":
        applied = asyncio.run(migrate(dsn, spec.migrations))
        print(f"{spec.name}: migrations applied: {applied or 'none (up to date)'}")
    elif args.role == "relay":
        uvloop.run(OutboxRelay(settings, dsn).run())
    elif args.role == "consumer":
        uvloop.run(run_consumer(spec, settings))
    elif spec.app_factory is None:
        parser.error(f"{spec.name} has no api role")
    else:
        import uvicorn

        asyncio.run(migrate(dsn, spec.migrations))
        uvicorn.run(
            spec.app_factory(settings),
            host=os.environ.get("HOST", "127.0.0.1"),
            port=args.port,
            log_level="warning",
            loop="uvloop",
        )
