-- Bonus lots (services/projections/bonus_lots.py, docs/bonus-lots.md): per lot, per user and
-- per creator, so marketing's coins stay apart from fans' in liabilities and earnings.
CREATE TABLE bonus_lots (
    lot_id          text PRIMARY KEY,
    user_id         text,
    campaign_id     text,
    source          text,
    purchase_id     text,
    granted         bigint NOT NULL DEFAULT 0,
    spent           bigint NOT NULL DEFAULT 0,
    expired         bigint NOT NULL DEFAULT 0,
    outstanding     bigint NOT NULL DEFAULT 0,  -- granted - spent - expired
    spends          bigint NOT NULL DEFAULT 0,
    expires_at      timestamptz,
    granted_at      timestamptz,
    expired_at      timestamptz,
    last_event_time timestamptz NOT NULL
);
CREATE INDEX bonus_lots_user ON bonus_lots (user_id, expires_at);

-- A user's bonus coins: outstanding is the bonus part of wallet_balances.balance (the rest,
-- balance - outstanding, is purchased coins).
CREATE TABLE bonus_wallets (
    user_id         text PRIMARY KEY,
    granted         bigint NOT NULL DEFAULT 0,
    spent           bigint NOT NULL DEFAULT 0,
    expired         bigint NOT NULL DEFAULT 0,
    outstanding     bigint NOT NULL DEFAULT 0,
    lots            bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL
);

-- What creators received from bonus coins and the diamonds these earned at the bonus rate.
CREATE TABLE bonus_creator_earnings (
    creator_id      text PRIMARY KEY,
    spends          bigint NOT NULL DEFAULT 0,
    bonus_coins     bigint NOT NULL DEFAULT 0,
    bonus_diamonds  bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL
);

-- The platform's commission: the bonus coins among each day's coins, and the diamonds they
-- earned creators (at the bonus rate: marketing's cost, not fans' money).
ALTER TABLE platform_commission_daily
    ADD COLUMN bonus_coins    bigint NOT NULL DEFAULT 0,
    ADD COLUMN bonus_diamonds bigint NOT NULL DEFAULT 0;
