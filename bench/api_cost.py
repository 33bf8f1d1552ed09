"""CPU per gift of the gifting app in-process: `python -m bench.api_cost`.

The real app (create_app's middleware, routes, group commit) on a private database of its own
(real PostgreSQL, `bench<random>_gifting`, dropped at the end), driven over raw ASGI messages,
so the figure is the app's work alone: no socket, no HTTP parser, no client library (uvicorn's
own share is in the full bench). Gifts go in waves of `--concurrency` at once, so the group
commit batches them as it does in a storm. Prints the app process's CPU per gift and the CPU of
its PostgreSQL backends per gift (their /proc ticks), the best of `--repeat` rounds: an A/B
figure for per-request work that a shared machine's noise moves far less than a rate.
"""

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

import asyncpg
import orjson
import uvloop

from bench import cost
from bench.system import bench_settings, server_url
from eventkit.auth import mint_token
from eventkit.db import migrate
from eventkit.roles import drop_roles
from eventkit.settings import Settings
from infra import secrets

ROOT = Path(__file__).resolve().parent.parent


class Asgi:
    """One HTTP request straight into an ASGI app: (status, headers, body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
    ) -> tuple[int, list, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), *headers]
            + ([(b"content-length", str(len(body)).encode())] if body else []),
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        out: dict = {"body": []}

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"], out["headers"] = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                out["body"].append(message.get("body", b""))

        await self.app(scope, receive, send)
        return out["status"], out["headers"], b"".join(out["body"])


def _headers(token: str, key: str | None = None) -> list[tuple[bytes, bytes]]:
    found = [(b"authorization", f"Bearer {token}".encode())]
    if key:
        found += [(b"idempotency-key", key.encode()), (b"content-type", b"application/json")]
    return found


async def _fund(settings: Settings, fans: list[str], coins: int) -> None:
    from services.gifting import ledger

    conn = await asyncpg.connect(settings.database_for("gifting"))
    try:
        for fan in fans:
            async with conn.transaction():
                await ledger.credit(conn, fan, coins, uuid.uuid4(), "purchase")
    finally:
        await conn.close()


def _own_backend_ticks(prefix: str) -> int:
    procs = cost.scan()
    return sum(cost.backend_ticks(procs, p, prefix) for p in cost.postmasters(procs))


async def measure(args) -> None:
    from services.gifting.api import create

    settings = bench_settings()
    secrets.ensure(settings)
    await migrate(settings, "gifting", ROOT / "services" / "gifting" / "migrations")
    try:
        app = create(settings)
        async with app.router.lifespan_context(app):
            call = Asgi(app)
            fans = [f"fan-{i}" for i in range(args.fans)]
            creators = [f"creator-{i}" for i in range(args.creators)]
            tokens = {u: mint_token(settings, u) for u in fans + creators}
            for creator in creators:
                status, _, _ = await call("GET", "/v1/wallet", _headers(tokens[creator]))
                assert status == 200, status
            await _fund(settings, fans, 10**9)
            n = 0

            def gift() -> tuple:
                nonlocal n
                n += 1
                fan, creator = fans[n % len(fans)], creators[(n * 7919) % len(creators)]
                body = {
                    "creator_id": creator,
                    "context": {"kind": "live", "id": "stream-1"},
                    "gift_code": "rose",
                    "quantity": 1,
                    "catalog_version": 2,
                }
                return (
                    "POST",
                    "/v1/gifts",
                    _headers(tokens[fan], str(uuid.uuid4())),
                    (orjson.dumps(body)),
                )

            async def wave() -> None:
                answers = await asyncio.gather(*(call(*gift()) for _ in range(args.concurrency)))
                bad = [a for a in answers if a[0] != 201]
                assert not bad, bad[:3]

            for _ in range(args.warmup):
                await wave()
            best = None
            for _ in range(args.repeat):
                ticks, cpu = _own_backend_ticks(settings.db_prefix), time.process_time()
                for _ in range(args.waves):
                    await wave()
                app_ms = (time.process_time() - cpu) * 1000
                db_ms = (_own_backend_ticks(settings.db_prefix) - ticks) * 1000 / cost.TICK
                gifts = args.waves * args.concurrency
                figures = (app_ms / gifts, db_ms / gifts)
                print(
                    f"  round: app {figures[0] * 1000:.0f} µs/gift, "
                    f"its PostgreSQL backends {figures[1] * 1000:.0f} µs/gift"
                )
                best = figures if best is None or figures[0] < best[0] else best
            assert best is not None
            print(
                f"best: app {best[0] * 1000:.0f} µs CPU per gift, PostgreSQL backends "
                f"{best[1] * 1000:.0f} µs ({args.concurrency} at once, {args.fans} fans, "
                f"{args.creators} creators)"
            )
    finally:
        await _drop(settings)


async def _drop(settings: Settings) -> None:
    conn = await asyncpg.connect(server_url(settings, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{settings.db_prefix}_gifting" WITH (FORCE)')
        await drop_roles(conn, settings, ["gifting"])
    finally:
        await conn.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_cost", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64, help="gifts in flight at once")
    parser.add_argument("--waves", type=int, default=40, help="waves per round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fans", type=int, default=500)
    parser.add_argument("--creators", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("COINSTREAM_ENV", "development")
    uvloop.run(measure(args))


if __name__ == "__main__":
    main()
