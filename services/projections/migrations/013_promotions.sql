-- Promotions (services/projections/promotions.py, docs/promotions.md): each campaign's terms
-- and totals, and its redemptions per UTC day and country. A discount is in the charge
-- currency (discount_minor, discount_currency) and in the settlement currency
-- (discount_settlement_minor): what the campaign gave up of the price.
CREATE TABLE promo_campaigns (
    campaign_id               text PRIMARY KEY,
    name                      text,
    kind                      text,
    countries                 text,  -- comma-separated; null: every country
    created_by                text,
    starts_at                 timestamptz,
    ends_at                   timestamptz,
    max_redemptions           bigint,
    per_user_limit            bigint,
    reward_coins              bigint,  -- bonus coins one redemption gives
    discount_bp               bigint,
    bonus_expires_after_days  integer,
    created_at                timestamptz,
    code_batches              bigint NOT NULL DEFAULT 0,
    codes_issued              bigint NOT NULL DEFAULT 0,
    redemptions               bigint NOT NULL DEFAULT 0,
    bonus_redemptions         bigint NOT NULL DEFAULT 0,
    bonus_coins               bigint NOT NULL DEFAULT 0,
    discount_redemptions      bigint NOT NULL DEFAULT 0,
    discount_minor            bigint NOT NULL DEFAULT 0,
    discount_settlement_minor bigint NOT NULL DEFAULT 0,
    discount_currency         text,
    settlement_currency       text,
    last_event_time           timestamptz NOT NULL
);

CREATE TABLE promo_redemption_days (
    campaign_id               text   NOT NULL,
    day                       date   NOT NULL,
    country                   text   NOT NULL,
    redemptions               bigint NOT NULL DEFAULT 0,
    bonus_redemptions         bigint NOT NULL DEFAULT 0,
    bonus_coins               bigint NOT NULL DEFAULT 0,
    discount_redemptions      bigint NOT NULL DEFAULT 0,
    discount_minor            bigint NOT NULL DEFAULT 0,
    discount_settlement_minor bigint NOT NULL DEFAULT 0,
    discount_currency         text,
    settlement_currency       text,
    last_event_time           timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, day, country)
);
CREATE INDEX promo_redemption_days_day ON promo_redemption_days (day);
