"""FastAPI app factory shared by every HTTP service: settings and pool in app.state, problem
responses, body-size limit, /healthz and /readyz."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi._body_limit import AppBodyLimitMiddleware
from fastapi.responses import JSONResponse
from fastapi.telemetry._asgi import ExceptionTelemetryMiddleware

from eventkit import metrics, problems, tracing
from eventkit.db import create_pool, when_database_answers
from eventkit.kafka import ping
from eventkit.settings import Settings

Hook = Callable[[FastAPI], Awaitable[None]]


def create_app(
    title: str,
    service: str,
    settings: Settings,
    routers: list[APIRouter],
    on_start: Hook | None = None,
    description: str = "",
    on_stop: Hook | None = None,
    login: str | None = None,  # the database login role, when not the service's own
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await when_database_answers(
            lambda: create_pool(settings.database_for(service, login))
        )
        if on_start:
            await on_start(app)
        try:
            yield
        finally:
            try:
                if on_stop:  # while the pool is still open
                    await on_stop(app)
            finally:
                await app.state.pool.close()

    # FastAPI's own OpenTelemetry hooks look up the global providers on every request (through
    # os.environ: ~5% of gifting-api's CPU in a gift storm) although nothing here configures
    # them.
    app = _App(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    problems.install(app)
    problems.document(app)
    app.add_middleware(_LimitBody, max_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.RedMiddleware, service=service)  # outermost: 413s are counted
    # The service's own routes first: FastAPI tries routers in order on every request, and the
    # probes' and /metrics' paths are theirs alone, so they still match wherever they stand.
    for router in routers:
        app.include_router(router)
    app.include_router(_health_router(service))
    app.include_router(metrics.router())
    tracing.instrument_app(app)  # a no-op unless tracing is configured (eventkit.tracing)
    return app


class _App(FastAPI):
    """FastAPI with the middleware it adds for features this app leaves off removed from the
    stack: its exception telemetry (telemetry is off above) and its body-size limit (no
    max_body_size: _LimitBody is the limit). Each is one more coroutine frame that every
    request enters, and that every resume of a suspended request (a group commit's answer)
    passes through again."""

    def build_middleware_stack(self) -> Any:
        app = super().build_middleware_stack()
        if self.max_body_size is not None or any(self._telemetry.get(k) for k in _SIGNALS):
            return app
        layer: Any = app
        outer: Any = None
        while layer is not None:
            inner = getattr(layer, "app", None)
            if isinstance(layer, _UNUSED) and outer is not None:
                outer.app = inner  # unlink it
            else:
                outer = layer
            layer = inner
        return app


_SIGNALS = ("tracing", "metrics", "logs")
_UNUSED = (ExceptionTelemetryMiddleware, AppBodyLimitMiddleware)


class _LimitBody:
    """Refuses bodies over `max_bytes` with 413 problem+json. A plain ASGI middleware rather
    than `@app.middleware("http")` (Starlette's BaseHTTPMiddleware), which wraps every request
    in extra tasks and streams: in-process CPU per POST 657 -> 318 µs (bench.middleware_cost)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                return await self._refuse(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # Chunked upload: read and measure it, then hand the app the buffered body.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, scope, receive, send):
        response = problems.problem_response(
            413,
            "payload-too-large",
            "Request body too large",
            f"limit is {self.max_bytes} bytes",
            scope["path"],
        )
        await response(scope, receive, send)


def _replay(messages: list[dict], receive):
    async def replay():
        return messages.pop(0) if messages else await receive()

    return replay


def _health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL and Kafka answer",
        responses={503: {"description": "A dependency is down"}},
    )
    async def readyz(request: Request):
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(3):
                await request.app.state.pool.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, don't crash
            checks["postgres"] = f"down: {exc!r}"
        try:
            async with asyncio.timeout(5):
                await ping(request.app.state.settings, service)
            checks["kafka"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["kafka"] = f"down: {exc!r}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    return router
