-- Spending controls a user sets (services/gifting/limits_decide.py): per rule the value in
-- force and what waits to take over from `*_pending_from` (a raise or removal waits 24 hours;
-- NULL pending with a pending_from: the rule is removed then). NULL value: no limit.
CREATE TABLE spending_controls (
    user_id                text PRIMARY KEY,
    day_coins              bigint CHECK (day_coins >= 0),
    day_pending            bigint CHECK (day_pending >= 0),
    day_pending_from       timestamptz,
    week_coins             bigint CHECK (week_coins >= 0),
    week_pending           bigint CHECK (week_pending >= 0),
    week_pending_from      timestamptz,
    month_coins            bigint CHECK (month_coins >= 0),
    month_pending          bigint CHECK (month_pending >= 0),
    month_pending_from     timestamptz,
    excluded_until         timestamptz,
    excluded_pending       timestamptz,
    excluded_pending_from  timestamptz,
    version                integer NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- What each user spent (every spend kind) per calendar window in UTC (period: day, week,
-- month; starts_at: the window's start by the spending transaction's clock). Written by the
-- spend's own statement (spend_store.write) while the wallet is locked, so a batch that reads
-- it after taking the wallet lock sees every spend committed before it.
CREATE TABLE spend_windows (
    user_id   text   NOT NULL,
    period    text   NOT NULL CHECK (period IN ('day', 'week', 'month')),
    starts_at timestamptz NOT NULL,
    coins     bigint NOT NULL CHECK (coins >= 0),
    PRIMARY KEY (user_id, period, starts_at)
);
