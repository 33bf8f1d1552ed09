"""FastAPI app factory shared by every HTTP service: settings and pool in app.state, problem
responses, body-size limit, /healthz and /readyz."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from eventkit import problems
from eventkit.db import create_pool
from eventkit.kafka import ping
from eventkit.settings import Settings

Hook = Callable[[FastAPI], Awaitable[None]]


def create_app(title: str, service: str, settings: Settings, routers: list[APIRouter],
               on_start: Hook | None = None, description: str = "") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await create_pool(settings.database_for(service))
        if on_start:
            await on_start(app)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    problems.install(app)
    app.middleware("http")(_limit_body(settings.max_body_bytes))
    app.include_router(_health_router())
    for router in routers:
        app.include_router(router)
    return app


def _limit_body(max_bytes: int):
    async def middleware(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return problems.problem_response(413, "payload-too-large", "Request body too large",
                                             f"limit is {max_bytes} bytes", request.url.path)
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()  # chunked upload: measure it
            if len(body) > max_bytes:
                return problems.problem_response(413, "payload-too-large",
                                                 "Request body too large",
                                                 f"limit is {max_bytes} bytes", request.url.path)
        return await call_next(request)

    return middleware


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: PostgreSQL and Kafka answer",
                responses={503: {"description": "A dependency is down"}})
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
                await ping(request.app.state.settings)
            checks["kafka"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["kafka"] = f"down: {exc!r}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                            status_code=200 if ok else 503)

    return router
