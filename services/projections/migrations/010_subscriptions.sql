-- Subscriptions read models (services/projections/subscriptions.py), rebuilt from the gifting
-- topic's subscription events.
CREATE TABLE subscriptions (
    subscription_id text PRIMARY KEY,
    fan_id          text,
    creator_id      text,
    payer_id        text,
    gift_id         text,
    periods_paid    bigint NOT NULL DEFAULT 0,
    coins_paid      bigint NOT NULL DEFAULT 0,
    period_end      timestamptz,
    started_at      timestamptz,
    cancelled_at    timestamptz,
    lapsed_at       timestamptz,
    lapse_reason    text,
    renewals_failed bigint NOT NULL DEFAULT 0,
    grace_until     timestamptz,
    last_event_time timestamptz NOT NULL
);
CREATE INDEX subscriptions_creator ON subscriptions (creator_id);
CREATE INDEX subscriptions_fan ON subscriptions (fan_id);

-- One row per (creator, fan): months paid in all their subscriptions, and the badge tier.
CREATE TABLE subscriber_entitlements (
    creator_id      text NOT NULL,
    fan_id          text NOT NULL,
    months          integer,
    tier            text,
    coins_paid      bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (creator_id, fan_id)
);
