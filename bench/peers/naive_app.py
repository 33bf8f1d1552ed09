"""The naive baseline of our own path, as a tiny FastAPI app served by uvicorn (uvloop) in its
own process and driven over HTTP by the same open-loop generator as ours: one request -> one
transaction (idempotency key, conditional wallet debit, ledger row, event row) -> after commit a
synchronous Kafka send (`send_and_wait`, linger 0) per gift. No outbox, no relay, no batching.
Same JWT check and gift catalog as gifting; wallets are funded by a direct INSERT at setup.

`python -m bench.peers.naive_app` with NAIVE_DSN (its database), KAFKA_BOOTSTRAP_SERVERS,
NAIVE_TOPIC, NAIVE_PORT and JWT_JWKS_URL in the environment."""

import os
from contextlib import asynccontextmanager
from uuid import uuid4

from fastapi import FastAPI, Request, Response

from eventkit.auth import CallerDep
from eventkit.codec import encode, new_envelope
from eventkit.idempotency import IdempotencyKey
from eventkit.kafka import ADMIN, producer
from eventkit.settings import Settings
from eventkit.signing import owner_headers
from policy.coin_value import value_of
from schemas import topics
from schemas.events.gifting import GiftSent
from services.gifting.catalog import load_catalog
from services.gifting.gifts import GiftCreate, GiftPublic


def create(dsn: str, topic: str) -> FastAPI:
    import asyncpg

    from eventkit.db import init_connection

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = Settings()
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=2, max_size=20, init=init_connection
        )
        # the bench's own topic, outside the contract's ACLs: written as the operator
        app.state.producer = producer(app.state.settings, ADMIN, linger_ms=0)
        await app.state.producer.start()
        try:
            yield
        finally:
            await app.state.producer.stop()
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/gifts", status_code=201)
    async def send_gift(
        body: GiftCreate,
        caller: CallerDep,
        key: IdempotencyKey,
        request: Request,
        response: Response,
    ):
        if body.creator_id is None:  # the naive peer gifts one creator, never a room
            response.status_code = 422
            return {"type": "room-gifts-not-supported"}
        catalog = load_catalog()
        price = catalog.price(body.gift_code, body.quantity, caller.country)
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, '')",
                caller.user_id,
                key,
            )
            row = await conn.fetchrow(
                "UPDATE wallets SET balance = balance - $2, version = version + 1"
                " WHERE user_id = $1 AND balance >= $2 RETURNING balance, version",
                caller.user_id,
                price.coins,
            )
            if row is None:
                response.status_code = 409
                return {"type": "insufficient-coins"}
            gift_id = uuid4()
            event = new_envelope(
                "/coinstream/naive",
                GiftSent(
                    gift_id=str(gift_id),
                    sender_id=caller.user_id,
                    creator_id=body.creator_id,
                    context=body.context,
                    gift_code=price.gift_code,
                    quantity=price.quantity,
                    unit_price=price.unit_price,
                    coins=price.coins,
                    diamonds_per_coin=catalog.diamonds_per_coin,
                    commission_rate=catalog.commission_rate,
                    rates_version=catalog.rates_version,
                    catalog_version=catalog.version,
                    balance_after=row["balance"],
                ),
                aggregate_id=f"wallet-{caller.user_id}",
                aggregate_version=row["version"],
                subject=body.creator_id,
            )
            await conn.execute(
                "INSERT INTO wallet_ledger (user_id, event_id, kind, delta, balance_after)"
                " VALUES ($1, $2, 'gift', $3, $4)",
                caller.user_id,
                event.id,
                -price.coins,
                row["balance"],
            )
            await conn.execute(
                "INSERT INTO events (event_id, stream_id, version, event_type, data_version,"
                " envelope) VALUES ($1, $2, $3, $4, $5, $6)",
                event.id,
                event.aggregateid,
                event.aggregateversion,
                event.type,
                event.dataversion,
                event.model_dump(mode="json"),
            )
        value, aggregate = encode(event), event.aggregateid.encode()
        # Signed as gifting's relay signs GiftSent, so the comparison carries the same cost.
        settings = request.app.state.settings
        headers = owner_headers(settings, topics.GIFTING_EVENTS, value, aggregate)
        await request.app.state.producer.send_and_wait(topic, value, key=aggregate, headers=headers)
        return GiftPublic(
            gift_id=gift_id,
            event_id=event.id,
            coins=price.coins,
            value=value_of(price.coins, caller.country),
            combo_id=uuid4(),
            combo_count=price.quantity,  # no combos here
            balance_after=row["balance"],
        )

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        create(os.environ["NAIVE_DSN"], os.environ["NAIVE_TOPIC"]),
        host="127.0.0.1",
        port=int(os.environ["NAIVE_PORT"]),
        log_level="warning",
        loop="uvloop",
    )
