-- Payments that succeeded after their purchase failed are refunded (PaymentRefundDue, then
-- PaymentRefunded): when, how much (charge currency) and the provider's refund id. The views
-- over them are in 005_analytics_v2.sql.
ALTER TABLE purchases
    ADD COLUMN refund_due_at timestamptz,
    ADD COLUMN refunded_at   timestamptz,
    ADD COLUMN refund_minor  bigint,
    ADD COLUMN refund_id     text;
