-- Read models. Never a source of truth: every table here is rebuilt from the Kafka topics.

-- Which events were projected: recorded in the same transaction as their effect.
CREATE TABLE projected_events (
    event_id    uuid PRIMARY KEY,
    event_type  text        NOT NULL,
    topic       text        NOT NULL,
    "partition" integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    event_time  timestamptz NOT NULL,
    projected_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallet_balances (
    user_id     text PRIMARY KEY,
    purchased   bigint NOT NULL DEFAULT 0,
    clawed_back bigint NOT NULL DEFAULT 0,
    gifted      bigint NOT NULL DEFAULT 0,
    unlocked    bigint NOT NULL DEFAULT 0,
    balance     bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL
);

CREATE TABLE creator_earnings (
    creator_id       text PRIMARY KEY,
    gifts_received   bigint NOT NULL DEFAULT 0,
    diamonds_earned  bigint NOT NULL DEFAULT 0,
    diamonds_pending bigint NOT NULL DEFAULT 0,
    diamonds_paid    bigint NOT NULL DEFAULT 0,
    events           bigint NOT NULL DEFAULT 0,
    last_event_time  timestamptz NOT NULL
);
