-- What each creator charges per one-month subscription period (versioned: SubscriptionPriceSet).
CREATE TABLE subscription_prices (
    creator_id text PRIMARY KEY,
    coins      bigint  NOT NULL CHECK (coins > 0),
    version    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per subscription. A fan holds at most one live subscription (status active or grace)
-- per creator: a second subscribe waits on this unique index and then finds the first.
-- auto_renew false: cancelled, or gifted (a gift pays one month and never renews). The renewal
-- worker claims rows whose next_attempt_at has come (FOR UPDATE SKIP LOCKED).
CREATE TABLE subscriptions (
    subscription_id uuid PRIMARY KEY,
    fan_id          text    NOT NULL,
    creator_id      text    NOT NULL,
    gift_id         uuid,
    status          text    NOT NULL CHECK (status IN ('active', 'grace', 'ended')),
    auto_renew      boolean NOT NULL,
    coins           bigint  NOT NULL CHECK (coins > 0),  -- the price per period it renews at
    period          integer NOT NULL CHECK (period >= 1),  -- the last period paid
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    grace_until     timestamptz,
    attempts        integer NOT NULL DEFAULT 0,  -- failed renewals of the coming period
    next_attempt_at timestamptz NOT NULL,
    prior_months    integer NOT NULL DEFAULT 0,  -- months the fan paid earlier subscriptions
    ended_reason    text,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'grace') = (grace_until IS NOT NULL))
);
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (fan_id, creator_id)
    WHERE status <> 'ended';
CREATE INDEX subscriptions_due ON subscriptions (next_attempt_at) WHERE status <> 'ended';
CREATE INDEX subscriptions_creator ON subscriptions (creator_id) WHERE status <> 'ended';

-- Every period ever paid, keyed (subscription, period): a renewal worker killed between its
-- claim and its commit, or two workers, can never pay one period twice. event_id is the charge
-- event (one SubscriptionsGifted pays the first period of each of its subscriptions).
CREATE TABLE subscription_periods (
    subscription_id uuid    NOT NULL REFERENCES subscriptions (subscription_id),
    period          integer NOT NULL,
    payer_id        text    NOT NULL,
    creator_id      text    NOT NULL,
    coins           bigint  NOT NULL CHECK (coins > 0),
    event_id        uuid    NOT NULL,
    paid_at         timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, period)
);
CREATE INDEX subscription_periods_event ON subscription_periods (event_id);
