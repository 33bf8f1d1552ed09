-- What gifting knows of other accounts: profiles (from AccountProfileUpdated events and from
-- callers' verified token claims) and transaction bans (from the sanctions topic).
CREATE TABLE profiles (
    user_id      text PRIMARY KEY,
    country      text,
    birthdate    date,
    account_type text NOT NULL DEFAULT 'personal',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bans (
    ban_id     text PRIMARY KEY,
    user_id    text   NOT NULL,
    scopes     text[] NOT NULL,
    expires_at timestamptz,
    lifted     boolean NOT NULL DEFAULT false
);
CREATE INDEX bans_user ON bans (user_id) WHERE NOT lifted;

-- The running combo per (sender, creator, context, gift): same gift again within the window
-- keeps the combo id and adds to the count.
CREATE TABLE combos (
    sender_id    text NOT NULL,
    creator_id   text NOT NULL,
    context_kind text NOT NULL,
    context_id   text NOT NULL,
    gift_code    text NOT NULL,
    combo_id     uuid NOT NULL,
    count        integer NOT NULL,
    last_at      timestamptz NOT NULL,
    PRIMARY KEY (sender_id, creator_id, context_kind, context_id, gift_code)
);

-- Priced items coins can unlock, registered by creators (owner) or the platform.
CREATE TABLE items (
    item_id    text PRIMARY KEY,
    owner_id   text    NOT NULL,
    title      text    NOT NULL,
    coins      bigint  NOT NULL CHECK (coins > 0),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One unlock per user and item: unlocking twice never charges twice.
CREATE TABLE unlocks (
    user_id    text NOT NULL,
    item_id    text NOT NULL REFERENCES items (item_id),
    unlock_id  uuid NOT NULL UNIQUE,
    event_id   uuid NOT NULL UNIQUE,
    coins      bigint NOT NULL,
    balance_after bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);
