-- Every read model of issue 6. Each is a pure fold of events: sums, per-event rows, or
-- per-entity rows whose columns come from one event type each (COALESCE / LEAST / GREATEST),
-- so the result does not depend on the order or batching in which events arrive and a rebuild
-- from the topics equals the live tables row for row. Times come from the events, never now().

-- The v1 tables missed movements: start over. The worker's consumer group is renamed with
-- this migration (`-projections-v2`), so it replays every topic from the beginning.
TRUNCATE projected_events, wallet_balances, creator_earnings;

-- How far the live worker got, per partition (next offset to read), written in the same
-- transaction as the batch. The rebuild replays exactly up to here before it swaps tables in.
CREATE TABLE projection_positions (
    topic       text    NOT NULL,
    "partition" integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (topic, "partition")
);
CREATE INDEX projected_events_event_time ON projected_events (event_time);

-- Consumer lag as the worker last measured it (a status, not a read model: never rebuilt).
CREATE TABLE worker_status (
    topic        text    NOT NULL,
    "partition"  integer NOT NULL,
    end_offset   bigint  NOT NULL,
    next_offset  bigint  NOT NULL,
    measured_at  timestamptz NOT NULL,
    PRIMARY KEY (topic, "partition")
);

-- Wallets: all four movements (purchase, clawback, gift, unlock); wallet_balances exists.
CREATE TABLE wallet_statements (
    user_id       text        NOT NULL,
    event_id      uuid        NOT NULL,
    event_time    timestamptz NOT NULL,
    kind          text        NOT NULL,  -- purchase | clawback | gift | unlock
    coins         bigint      NOT NULL,  -- signed: + into the wallet, - out of it
    reference     text        NOT NULL,  -- purchase_id | gift_id | unlock_id
    counterparty  text,                  -- creator (gift), item (unlock), provider (purchase)
    balance_after bigint,                -- as gifting reported it (gifts, unlocks)
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX wallet_statements_by_time ON wallet_statements (user_id, event_time DESC, event_id);

-- Creators, as the payout service reports them: available = earned - held - pending - paid.
ALTER TABLE creator_earnings
    ADD COLUMN coins_received bigint NOT NULL DEFAULT 0,
    ADD COLUMN diamonds_held  bigint NOT NULL DEFAULT 0,
    ADD COLUMN diamonds_available bigint GENERATED ALWAYS AS
        (diamonds_earned - diamonds_held - diamonds_pending - diamonds_paid) STORED;

CREATE TABLE creator_stream_earnings (
    creator_id      text NOT NULL,
    stream_id       text NOT NULL,
    credits         bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    diamonds        bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (creator_id, stream_id)
);

CREATE TABLE creator_daily_earnings (
    creator_id      text NOT NULL,
    day             date NOT NULL,  -- UTC day of the event
    credits         bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    diamonds_earned bigint NOT NULL DEFAULT 0,
    diamonds_paid   bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (creator_id, day)
);

-- Live streams: who gave most, and gift combos (one row per combo id).
CREATE TABLE stream_gifters (
    stream_id       text NOT NULL,
    sender_id       text NOT NULL,
    creator_id      text NOT NULL,
    gifts           bigint NOT NULL DEFAULT 0,
    quantity        bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (stream_id, sender_id)
);
CREATE INDEX stream_gifters_rank ON stream_gifters (stream_id, coins DESC, sender_id);

CREATE TABLE stream_combos (
    stream_id        text NOT NULL,
    combo_id         text NOT NULL,
    sender_id        text NOT NULL,
    creator_id       text NOT NULL,
    gift_code        text NOT NULL,
    gifts            bigint NOT NULL DEFAULT 0,
    quantity         bigint NOT NULL DEFAULT 0,
    coins            bigint NOT NULL DEFAULT 0,
    max_combo_count  integer NOT NULL DEFAULT 0,
    first_event_time timestamptz NOT NULL,
    last_event_time  timestamptz NOT NULL,
    PRIMARY KEY (stream_id, combo_id)
);
CREATE INDEX stream_combos_rank ON stream_combos (stream_id, coins DESC, combo_id);

-- Unlockable items: listing facts (the highest item version wins) and unlock counts.
CREATE TABLE item_unlocks (
    item_id         text PRIMARY KEY,
    owner_id        text,
    title           text,
    listed_coins    bigint,
    item_version    integer,
    unlocks         bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL
);

-- One row per purchase, filled in by whichever of its events arrive (funnel and revenue).
CREATE TABLE purchases (
    purchase_id         text PRIMARY KEY,
    user_id             text NOT NULL,
    bundle_id           text,
    coins               bigint,
    country             text,
    channel             text,
    currency            text,      -- charge currency
    price_minor         bigint,    -- gross, in the charge currency
    settlement_currency text,
    settlement_minor    bigint,
    fee_minor           bigint,    -- in the settlement currency
    fx_rate             numeric,   -- settlement units per charge unit
    provider            text,
    created_at          timestamptz,
    confirmed_at        timestamptz,
    declined_at         timestamptz,
    decline_reason      text,
    clawed_back_at      timestamptz,
    clawback_reason     text,
    clawed_back_coins   bigint NOT NULL DEFAULT 0,
    clawed_back_settlement_minor bigint NOT NULL DEFAULT 0
);

-- The platform's share of coins spent (gifts and unlocks carry the commission rate used).
CREATE TABLE platform_commission_daily (
    day              date NOT NULL,
    source           text NOT NULL,  -- gift | unlock
    events           bigint  NOT NULL DEFAULT 0,
    coins            bigint  NOT NULL DEFAULT 0,
    commission_coins numeric NOT NULL DEFAULT 0,
    last_event_time  timestamptz NOT NULL,
    PRIMARY KEY (day, source)
);

-- One row per payout request and its settlement.
CREATE TABLE payouts (
    payout_id       text PRIMARY KEY,
    creator_id      text NOT NULL,
    diamonds        bigint,
    currency        text,
    amount_minor    bigint,
    usd_per_diamond numeric,
    fx_rate         numeric,
    method          text,
    requires_review boolean,
    requested_at    timestamptz,
    approved_at     timestamptz,
    submitted_at    timestamptz,
    completed_at    timestamptz,
    paid_amount_minor bigint,
    failed_at       timestamptz,
    failure_reason  text
);
