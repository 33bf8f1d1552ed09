-- Partner platforms (services/gifting/partners*.py, docs/partners.md).

-- One OAuth client per partner. The secret is kept as its scrypt hash only
-- (`scrypt$<n>$<r>$<p>$<salt>$<hash>`); secret_version goes up by one per rotation and is
-- carried in every access token, so a token issued under an older secret is refused.
CREATE TABLE partner_clients (
    partner_id        text PRIMARY KEY,
    client_id         text    NOT NULL UNIQUE,
    name              text    NOT NULL,
    scopes            text[]  NOT NULL CHECK (scopes <@ ARRAY['coins:debit', 'coins:credit']),
    revenue_share_bp  integer NOT NULL CHECK (revenue_share_bp BETWEEN 0 AND 10000),
    daily_coins       bigint  NOT NULL CHECK (daily_coins > 0),
    secret_hash       text    NOT NULL,
    secret_version    integer NOT NULL DEFAULT 1,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    rotated_at        timestamptz
);

-- Coins a partner moved (debited plus credited) per UTC day: the per-partner limit. Written
-- by a conditional upsert in the operation's own transaction, so concurrent operations queue
-- on the row and can never pass the limit together.
CREATE TABLE partner_days (
    partner_id text   NOT NULL REFERENCES partner_clients,
    day        date   NOT NULL,
    coins      bigint NOT NULL CHECK (coins >= 0),
    PRIMARY KEY (partner_id, day)
);

-- A user's consent to a partner. Only the SHA-256 of the consent token is kept (the token is
-- 256 random bits, so a fast hash is enough). coins_used: coins debited under it so far.
CREATE TABLE partner_consents (
    consent_id  uuid PRIMARY KEY,
    user_id     text    NOT NULL,
    partner_id  text    NOT NULL REFERENCES partner_clients,
    scopes      text[]  NOT NULL,
    max_coins   bigint  CHECK (max_coins > 0),
    coins_used  bigint  NOT NULL DEFAULT 0 CHECK (max_coins IS NULL OR coins_used <= max_coins),
    token_hash  bytea   NOT NULL UNIQUE,
    granted_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX partner_consents_of_user ON partner_consents (user_id, granted_at);

-- Every debit and credit a partner made, once (the wallet_ledger row has the same event id).
CREATE TABLE partner_operations (
    operation_id  uuid PRIMARY KEY,
    partner_id    text    NOT NULL REFERENCES partner_clients,
    user_id       text    NOT NULL,
    consent_id    uuid    NOT NULL REFERENCES partner_consents,
    kind          text    NOT NULL CHECK (kind IN ('debit', 'credit')),
    coins         bigint  NOT NULL CHECK (coins > 0),
    reference     text    NOT NULL,
    event_id      uuid    NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_operations_of_partner ON partner_operations (partner_id, created_at);
