-- A payment that succeeds after its purchase failed (timed out) is owed back: `due` when the
-- late success arrives (PaymentRefundDue), `refunded` once the provider accepted the refund
-- (PaymentRefunded, with the provider's refund id).
ALTER TABLE purchases
    ADD COLUMN refund_status text CHECK (refund_status IN ('due', 'refunded')),
    ADD COLUMN refund_id     text;
CREATE INDEX purchases_refund_due ON purchases (resolved_at) WHERE refund_status = 'due';

-- The sandbox provider's refunds, one per payment (refund() is idempotent on the payment).
CREATE TABLE sandbox_refunds (
    provider_txn_id text PRIMARY KEY REFERENCES sandbox_payments,
    refund_id       text        NOT NULL UNIQUE,
    amount_minor    bigint      NOT NULL,
    currency        text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
