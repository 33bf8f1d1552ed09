"""The web dashboards, served by the read API on its own origin: a creator's earnings, an
analyst's revenue and liabilities, an operator's lag. `pages` serves the one HTML page and its
static files (Apache ECharts from the locked npm package, infra.node, never a CDN); `api` serves
the JSON each view draws, behind the same bearer tokens as every route (no cookies, so no CSRF).

Who sees what is decided here, server-side: a creator only their own figures (asking for
another creator's is a 403), analysts (role `analyst`, or `admin`) the platform's, admins ops.
Every query is bounded (queries.py) and every day range capped (ranges.py)."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from eventkit import local, problems
from eventkit.auth import Caller, CallerDep
from eventkit.deps import PoolDep
from schemas.text import Id
from services.projections.dashboard import queries as q
from services.projections.dashboard import signals
from services.projections.dashboard.ranges import DayRange, InvalidRange, day_range

STATIC = Path(__file__).parent / "static"
REFUSED = problems.problem_responses(problems.Unauthorized, problems.Forbidden, InvalidRange)

api = APIRouter(prefix="/v1/dashboard", tags=["dashboards"])
pages = APIRouter(include_in_schema=False)

# Panels the issue asks for whose data no process records yet: drawn as "not collected yet"
# (none left; the views keep the list for the next one).
CREATOR_MISSING: list[dict[str, str]] = []
ANALYST_MISSING: list[dict[str, str]] = []
OPS_MISSING: list[dict[str, str]] = []


def _need(caller: Caller, *roles: str) -> None:
    if not any(caller.has(r) for r in roles):
        raise problems.Forbidden(f"role {' or '.join(roles)} required")


def _today() -> date:
    return datetime.now(UTC).date()


async def _panel(pool, panel: q.Panel, *args: Any) -> dict[str, Any]:
    rows = await pool.fetch(panel.sql, *args)
    return {"view": panel.view, "rows": [dict(r) for r in rows]}


def _range(span: DayRange) -> dict[str, Any]:
    return {"from": span.first, "to": span.last, "days": span.days}


FromQ = Annotated[date | None, Query(alias="from", description="First UTC day (included)")]
ToQ = Annotated[date | None, Query(alias="to", description="Last UTC day (included)")]


@api.get("/creator", summary="The calling creator's dashboard data", responses=REFUSED)
async def creator(
    caller: CallerDep,
    pool: PoolDep,
    first: FromQ = None,
    last: ToQ = None,
    creator_id: Annotated[Id | None, Query(description="Must be the caller's own id")] = None,
    stream_id: Annotated[Id | None, Query(description="One of the caller's streams")] = None,
) -> dict[str, Any]:
    _need(caller, "creator")
    if creator_id is not None and creator_id != caller.user_id:
        raise problems.Forbidden("a creator sees only their own figures")
    span = day_range(first, last, _today())
    me = caller.user_id
    panels = {
        "totals": await _panel(pool, q.CREATOR_TOTALS, me),
        "days": await _panel(pool, q.CREATOR_DAYS, me, span.first, span.last),
        "streams": await _panel(pool, q.CREATOR_STREAMS, me, span.first, span.last),
        "gift_types": await _panel(pool, q.CREATOR_GIFT_TYPES, me),
        "gifters": await _panel(pool, q.CREATOR_GIFTERS, me),
        "payouts": await _panel(pool, q.CREATOR_PAYOUTS, me),
        "reserve": await _panel(pool, q.RESERVE, me),
    }
    stream = stream_id or next((r["stream_id"] for r in panels["streams"]["rows"]), None)
    panels["stream_gifters"] = await _panel(pool, q.STREAM_GIFTERS, stream, me)
    return {
        "creator_id": me,
        "stream_id": stream,
        "range": _range(span),
        "panels": panels,
        "missing": CREATOR_MISSING,
        "freshness": (await _panel(pool, q.FRESHNESS))["rows"][0],
    }


@api.get("/analyst", summary="The platform's revenue, funnel and liabilities", responses=REFUSED)
async def analyst(
    caller: CallerDep,
    pool: PoolDep,
    first: FromQ = None,
    last: ToQ = None,
    stream_id: Annotated[
        Id | None, Query(description="The stream of gifts per minute (default: the latest)")
    ] = None,
) -> dict[str, Any]:
    _need(caller, "analyst", "admin")
    span = day_range(first, last, _today())
    panels = {
        p.key: await _panel(pool, p, span.first, span.last)
        for p in (q.REVENUE, q.FUNNEL, q.COMMISSION, q.TOP_CREATORS)
    }
    panels["liabilities"] = await _panel(pool, q.LIABILITIES)
    panels["open_payouts"] = await _panel(pool, q.OPEN_PAYOUTS)
    if stream_id is None:
        stream_id = await pool.fetchval(q.LATEST_STREAM.sql, span.first, span.last)
    panels["gifts_per_minute"] = await _panel(
        pool, q.GIFTS_PER_MINUTE, stream_id, span.first, span.last
    )
    panels["gifts_per_minute"]["capped"] = len(panels["gifts_per_minute"]["rows"]) == q.MINUTES_CAP
    return {
        "range": _range(span),
        "stream_id": stream_id,
        "panels": panels,
        "missing": ANALYST_MISSING,
        "freshness": (await _panel(pool, q.FRESHNESS))["rows"][0],
    }


@api.get("/ops", summary="What the projections keep of the system's health", responses=REFUSED)
async def ops(caller: CallerDep, pool: PoolDep, request: Request) -> dict[str, Any]:
    _need(caller, "admin")
    scraped = await signals.collect(request.app.state.settings)  # every process's /metrics
    return {
        "panels": {
            "lag": await _panel(pool, q.LAG),
            **scraped,
            "dead_letter_reasons": await _panel(pool, q.DEAD_LETTER_REASONS),
            "reconcile": await _reconcile(pool),
        },
        "missing": OPS_MISSING,
        "freshness": (await _panel(pool, q.FRESHNESS))["rows"][0],
    }


async def _reconcile(pool) -> dict[str, Any]:
    """The newest reconcile run: when, its discrepancies, and one row per check."""
    run = await pool.fetchrow(q.RECONCILE.sql)
    if run is None:
        return {"view": q.RECONCILE.view, "run": None, "rows": []}
    checks = run["checks"]
    if isinstance(checks, str):  # a pool without eventkit.db's jsonb codec
        checks = orjson.loads(checks)
    return {
        "view": q.RECONCILE.view,
        "run": {k: run[k] for k in ("run_id", "finished_at", "discrepancies")},
        "rows": [
            {
                "check": c["name"],
                "examined": c["examined"],
                "found": c["found"],
                "first": "; ".join(c["first"][:3]),
            }
            for c in checks
        ],
    }


@pages.get("/dashboard", response_class=HTMLResponse)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store"}
_TYPES = {".js": "text/javascript", ".css": "text/css"}
_OWN = {"app.js", "app.css"}


# The locked npm packages where `python -m infra.node install` puts them: under the cache dir,
# COINSTREAM_CACHE's when set, as infra.paths.CACHE (infra.node.DASHBOARD_ASSETS names the
# same files; a service imports nothing from infra). A cache the packages were never installed
# in (`make cluster`'s, which borrows the clone's Kafka jars too) falls back on the clone's own.
_PACKAGES = ("node", "dashboard", "node_modules")
NODE_MODULES = local.CACHE_DIR.joinpath(*_PACKAGES)
CLONE_NODE_MODULES = Path(__file__).resolve().parents[3].joinpath(".cache", *_PACKAGES)
ASSETS = {"echarts.min.js": NODE_MODULES / "echarts" / "dist" / "echarts.min.js"}


def _asset(name: str) -> Path:
    path = ASSETS[name]
    if not path.is_file():
        path = CLONE_NODE_MODULES / path.relative_to(NODE_MODULES)
    return path


@pages.get("/dashboard/static/{name}")
async def static(name: str) -> FileResponse:
    if name in _OWN:
        return FileResponse(STATIC / name, media_type=_TYPES[Path(name).suffix])
    if name not in ASSETS:
        raise problems.NotFound(f"no static file {name}")
    path = _asset(name)
    if not path.is_file():
        raise problems.ServiceUnavailable(
            "dashboard assets not installed: python -m infra.node install"
        )
    return FileResponse(path, media_type=_TYPES[Path(name).suffix])
