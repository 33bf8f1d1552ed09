-- Ticketed live events: sales, refunds and the settlement at the start, per event
-- (services/projections/tickets.py).
CREATE TABLE live_event_sales (
    live_event_id    text PRIMARY KEY,
    creator_id       text,
    title            text,
    coins            bigint,
    capacity         integer,
    starts_at        timestamptz,
    scheduled_at     timestamptz,
    started_at       timestamptz,
    cancelled_at     timestamptz,
    tickets_sold     bigint NOT NULL DEFAULT 0,
    coins_sold       bigint NOT NULL DEFAULT 0,
    tickets_refunded bigint NOT NULL DEFAULT 0,
    coins_refunded   bigint NOT NULL DEFAULT 0,
    tickets_settled  bigint NOT NULL DEFAULT 0,
    coins_settled    bigint NOT NULL DEFAULT 0,
    last_event_time  timestamptz NOT NULL
);
CREATE INDEX live_event_sales_creator ON live_event_sales (creator_id, starts_at);

-- Fan levels: each (fan, creator)'s gifted coins per UTC day; the level on a day is folded
-- from these rows (services/projections/fan_levels.py).
CREATE TABLE fan_gift_days (
    fan_id          text   NOT NULL,
    creator_id      text   NOT NULL,
    day             date   NOT NULL,
    gifts           bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (fan_id, creator_id, day)
);
CREATE INDEX fan_gift_days_creator ON fan_gift_days (creator_id, day);
