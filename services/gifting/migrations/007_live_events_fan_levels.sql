-- Ticketed exclusive live events. `state` moves only scheduled -> started or scheduled ->
-- cancelled, each by one conditional UPDATE on this row, so a cancel racing a start has one
-- outcome. `sold` is bumped under the row's lock by each ticket bought; the CHECK is a second
-- guard behind that lock: capacity can never be exceeded.
CREATE TABLE live_events (
    live_event_id     text PRIMARY KEY,
    creator_id        text    NOT NULL,
    title             text    NOT NULL,
    coins             bigint  NOT NULL CHECK (coins > 0),
    capacity          integer NOT NULL CHECK (capacity > 0),
    sold              integer NOT NULL DEFAULT 0,
    starts_at         timestamptz NOT NULL,
    state             text    NOT NULL DEFAULT 'scheduled'
                      CHECK (state IN ('scheduled', 'started', 'cancelled')),
    -- the rates in force when it was scheduled: its tickets are bought and earned at them
    diamonds_per_coin numeric NOT NULL,
    commission_rate   numeric NOT NULL,
    rates_version     integer NOT NULL,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    CONSTRAINT live_events_capacity CHECK (sold BETWEEN 0 AND capacity)
);
CREATE INDEX live_events_creator ON live_events (creator_id, starts_at);

-- One ticket per fan and event. Its coins are `held` until the event starts (`settled`: the
-- creator earns them) or is cancelled (`refunded` to the fan).
CREATE TABLE tickets (
    ticket_id        uuid PRIMARY KEY,
    live_event_id    text   NOT NULL REFERENCES live_events (live_event_id),
    fan_id           text   NOT NULL,
    coins            bigint NOT NULL CHECK (coins > 0),
    purchase_event_id uuid  NOT NULL UNIQUE,
    balance_after    bigint NOT NULL,
    state            text   NOT NULL DEFAULT 'held'
                     CHECK (state IN ('held', 'settled', 'refunded')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz,
    UNIQUE (live_event_id, fan_id)
);
CREATE INDEX tickets_fan ON tickets (fan_id, created_at);

-- Fan levels: each (fan, creator)'s points as of the UTC day of its last gift, after that
-- day's gifts (services/gifting/fan_levels.py folds in a day's coins and decays the rest).
-- Written by the gift batch, one statement per batch, while the fan's wallet is locked.
CREATE TABLE fan_points (
    fan_id     text    NOT NULL,
    creator_id text    NOT NULL,
    points     bigint  NOT NULL CHECK (points >= 0),
    last_day   date    NOT NULL,
    PRIMARY KEY (fan_id, creator_id)
);
