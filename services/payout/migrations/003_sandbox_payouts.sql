-- The sandbox payout provider's own books, for development and tests only: each payout it
-- accepted (one per payout id, so submit() is idempotent) and its signed settlement callback,
-- redelivered with backoff by the payout worker until the payout API answers. A crash of the
-- process that accepted the payout loses nothing, as with a real provider.
CREATE TABLE sandbox_payouts (
    payout_id    uuid PRIMARY KEY,
    provider_ref text        NOT NULL UNIQUE,
    body         bytea       NOT NULL,
    due_at       timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    last_status  integer,
    delivered_at timestamptz
);
CREATE INDEX sandbox_payouts_due ON sandbox_payouts (due_at) WHERE delivered_at IS NULL;
