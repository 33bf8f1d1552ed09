-- Purchases are paid asynchronously: pending -> confirmed | failed, confirmed -> reversed.
-- Every move is a conditional UPDATE on status, so it happens once whatever the webhooks do.
ALTER TABLE purchases
    ALTER COLUMN status SET DEFAULT 'pending',
    ADD COLUMN settlement_minor    bigint,
    ADD COLUMN settlement_currency text,
    ADD COLUMN quote               jsonb,
    ADD COLUMN payment_method      text,
    ADD COLUMN pay_by              timestamptz,
    ADD COLUMN resolved_at         timestamptz,
    ADD COLUMN failure_reason      text,
    ADD COLUMN reversal_reason     text,
    ADD COLUMN late_success        boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT purchase_status CHECK (status IN ('pending', 'confirmed', 'failed', 'reversed'));
CREATE INDEX purchases_pending ON purchases (pay_by) WHERE status = 'pending';

-- Every verified provider notification, once (a duplicate or replay finds its row here).
CREATE TABLE provider_notifications (
    provider        text        NOT NULL,
    event_id        text        NOT NULL,
    provider_txn_id text        NOT NULL,
    kind            text        NOT NULL,
    outcome         text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

-- Transaction bans: recharge is their owner (admin API, moderation topic, fraud chargebacks).
-- A lift that arrives before its placement leaves a lifted row, so the placement stays lifted.
CREATE TABLE bans (
    ban_id     text PRIMARY KEY,
    user_id    text        NOT NULL,
    scopes     text[]      NOT NULL DEFAULT '{}',
    reason     text,
    source     text,
    expires_at timestamptz,
    placed_at  timestamptz,
    lifted_at  timestamptz,
    version    integer     NOT NULL DEFAULT 0
);
CREATE INDEX bans_user ON bans (user_id);

-- The sandbox payment provider's own books, kept here for development and tests only: the
-- payments it took and the signed notifications it still has to deliver (it retries until the
-- webhook answers 2xx, like a real provider).
CREATE TABLE sandbox_payments (
    provider_txn_id text PRIMARY KEY,
    purchase_id     uuid        NOT NULL UNIQUE,
    amount_minor    bigint      NOT NULL,
    currency        text        NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('success', 'decline', 'timeout')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sandbox_notifications (
    id              bigserial PRIMARY KEY,
    provider_txn_id text        NOT NULL REFERENCES sandbox_payments,
    body            bytea       NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_status     integer,
    delivered_at    timestamptz
);
CREATE INDEX sandbox_notifications_due ON sandbox_notifications (due_at)
    WHERE delivered_at IS NULL;
