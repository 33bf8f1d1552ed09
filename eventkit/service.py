"""The one command line every service shares: `python -m services.<name> <role>`.

Roles: `api` (HTTP), `relay` (outbox -> Kafka), `consumer` (Kafka -> this service's database),
`migrate` (create the database and its roles and apply migrations as its owner role, with the
admin's DATABASE_URL; eventkit/roles.py) and, for a service with one, `worker` (its periodic
jobs). The other roles log in as the service's login role, which may not run DDL: they wait
until `python -m infra prepare` (or `migrate`) has applied every migration. Each role is its
own process so any one can be killed and restarted alone.
"""

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from fastapi import FastAPI

from eventkit import metrics, secrets, tracing
from eventkit.consumer import BatchHandlers, Handlers, IdempotentConsumer
from eventkit.db import create_pool, migrate, wait_for_schema, when_database_answers
from eventkit.outbox import OutboxRelay
from eventkit.settings import Settings


@dataclass
class ServiceSpec:
    name: str
    migrations: Path
    settings: type[Settings] = Settings  # the service's own subclass, when it has one
    app_factory: Callable[[Settings], FastAPI] | None = None
    worker: Callable[[Settings], Coroutine[Any, Any, None]] | None = None
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
            principal=spec.name,
        ).run()
    finally:
        await pool.close()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, process, level, logger, message, and the correlation id
    (a log call's `extra={"correlation_id": ...}`, else the event's while a consumer applies
    it, else null) and trace id (the current span's, null when tracing is off) on every line,
    so a log search joins a trace or a business flow."""

    converter = staticmethod(time.gmtime)  # UTC, so the Z each time ends with is true

    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "process": self.process,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None)
            or tracing.CORRELATION_ID.get(),
            "trace_id": getattr(record, "trace_id", None) or tracing.trace_id(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(settings: Settings, process: str) -> None:
    """The one logging set-up of every process: JSON lines on stderr (JsonFormatter)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(process))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group chatter drowns the rest


def serve(app: FastAPI, settings: Settings, port: int) -> None:
    import uvicorn

    # No access log: at warning level uvicorn would write none, yet with a root handler set
    # (configure_logging) it still formats each request's client and path for the logger to
    # drop. The RED metrics count every request by route instead.
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


def main(spec: ServiceSpec) -> None:
    settings = spec.settings()
    roles = ["api", "relay", "consumer", "migrate"] + (["worker"] if spec.worker else [])
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}")
    parser.add_argument("role", choices=roles)
    parser.add_argument("--port", type=int, default=settings.port_for(spec.name))
    args = parser.parse_args()
    configure_logging(settings, f"{spec.name}-{args.role}")
    secrets.startup_check(settings, spec.name, args.role)  # production: every secret is set
    tracing.configure(settings, f"{spec.name}-{args.role}")  # with OTEL_EXPORTER_OTLP_ENDPOINT
    if args.role in ("relay", "consumer", "worker") and spec.name != "projections":
        # The projections worker serves its own (services/projections/metrics.py); an API
        # serves /metrics on its HTTP port (eventkit.http).
        metrics.serve(settings.host, settings.metrics_port_for(spec.name, args.role))
    dsn = settings.database_for(spec.name)
    if args.role == "migrate":  # as the owner, with the admin's credentials (eventkit.db)
        applied = asyncio.run(migrate(settings, spec.name, spec.migrations))
        print(f"{spec.name}: migrations applied: {applied or 'none (up to date)'}")
    elif args.role == "relay":
        uvloop.run(OutboxRelay(settings, dsn, principal=spec.name).run())
    elif args.role == "consumer":
        uvloop.run(run_consumer(spec, settings))
    elif args.role == "worker" and spec.worker:
        # The login role runs no DDL: `prepare` (or the migrate role) applies the migrations.
        asyncio.run(wait_for_schema(dsn, spec.migrations))
        asyncio.run(spec.worker(settings))
    elif spec.app_factory is None:
        parser.error(f"{spec.name} has no api role")
    else:
        asyncio.run(wait_for_schema(dsn, spec.migrations))
        serve(spec.app_factory(settings), settings, args.port)
