CREATE TABLE purchases (
    purchase_id     uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    bundle_id       text        NOT NULL,
    coins           bigint      NOT NULL CHECK (coins > 0),
    channel         text        NOT NULL,
    country         text        NOT NULL,
    price_minor     bigint      NOT NULL,
    price_currency  text        NOT NULL,
    status          text        NOT NULL,
    provider        text        NOT NULL,
    provider_txn_id text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_txn_id)
);
CREATE INDEX purchases_user ON purchases (user_id, created_at);
