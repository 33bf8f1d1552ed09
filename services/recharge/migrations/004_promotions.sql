-- Promotion campaigns (docs/promotions.md). `redeemed` counts the campaign's uses held or made
-- (a pending purchase's code holds one until it completes or fails); every use takes it with
-- a conditional UPDATE, and the CHECK is the last line should any path forget.
CREATE TABLE promo_campaigns (
    campaign_id              text PRIMARY KEY,
    name                     text        NOT NULL,
    kind                     text        NOT NULL CHECK (kind IN ('promo_code', 'coupon')),
    starts_at                timestamptz NOT NULL,
    ends_at                  timestamptz NOT NULL CHECK (ends_at > starts_at),
    countries                text[],     -- null: every country
    max_redemptions          integer     NOT NULL CHECK (max_redemptions > 0),
    per_user_limit           integer     NOT NULL CHECK (per_user_limit > 0),
    bonus_coins              bigint      CHECK (bonus_coins > 0),
    discount_bp              integer     CHECK (discount_bp BETWEEN 1 AND 9000),
    bonus_expires_after_days integer     CHECK (bonus_expires_after_days > 0),
    shared_code              text,
    created_by               text        NOT NULL,
    created_at               timestamptz NOT NULL,
    redeemed                 integer     NOT NULL DEFAULT 0
        CHECK (redeemed >= 0 AND redeemed <= max_redemptions),
    version                  integer     NOT NULL DEFAULT 1, -- last version of campaign-<id>
    CHECK ((bonus_coins IS NULL) <> (discount_bp IS NULL))
);

-- Every code by its SHA-256 (of the upper-cased code without dashes): a database reader learns
-- no live code. A single-use code is held by the redemption that took it (redemption_id).
CREATE TABLE promo_codes (
    code_hash     bytea PRIMARY KEY,
    campaign_id   text    NOT NULL REFERENCES promo_campaigns,
    single_use    boolean NOT NULL,
    batch_id      text,
    redemption_id uuid
);
CREATE INDEX promo_codes_campaign ON promo_codes (campaign_id);

-- One user's uses of one campaign (held or made), taken like `redeemed`.
CREATE TABLE promo_user_uses (
    campaign_id text    NOT NULL REFERENCES promo_campaigns,
    user_id     text    NOT NULL,
    used        integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (campaign_id, user_id)
);

-- One use: `reserved` while its purchase is pending (deleted if the purchase fails),
-- `redeemed` once it took effect (PromoRedeemed and, for coins, BonusCoinsGranted).
CREATE TABLE promo_redemptions (
    redemption_id             uuid PRIMARY KEY,
    campaign_id               text        NOT NULL REFERENCES promo_campaigns,
    user_id                   text        NOT NULL,
    country                   text        NOT NULL,
    source                    text        NOT NULL CHECK (source IN ('promo_code', 'coupon')),
    single_use                boolean     NOT NULL,
    code                      text        NOT NULL, -- spent or held by this use
    purchase_id               uuid UNIQUE REFERENCES purchases DEFERRABLE INITIALLY DEFERRED,
    bonus_coins               bigint      NOT NULL DEFAULT 0 CHECK (bonus_coins >= 0),
    discount_minor            bigint,
    discount_currency         text,
    discount_settlement_minor bigint,
    settlement_currency       text,
    grant_id                  uuid UNIQUE,
    expires_at                timestamptz,
    status                    text        NOT NULL CHECK (status IN ('reserved', 'redeemed')),
    created_at                timestamptz NOT NULL,
    redeemed_at               timestamptz
);
CREATE INDEX promo_redemptions_campaign ON promo_redemptions (campaign_id);

-- The last version of each user's promo-<user> stream (PromoRedeemed, BonusCoinsGranted).
CREATE TABLE promo_streams (
    user_id text PRIMARY KEY,
    version integer NOT NULL
);
