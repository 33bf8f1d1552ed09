-- Partner platforms' read models (services/projections/partners.py), rebuilt from the gifting
-- topic's partner events. Their wallet movements are rows of wallet_statements (kinds
-- partner_debit and partner_credit, the partner as counterparty) and of wallet_balances.
CREATE TABLE partner_daily (
    partner_id      text   NOT NULL,
    day             date   NOT NULL,
    debits          bigint NOT NULL DEFAULT 0,
    debit_coins     bigint NOT NULL DEFAULT 0,
    partner_coins   bigint NOT NULL DEFAULT 0,  -- the partner's revenue share of debit_coins
    credits         bigint NOT NULL DEFAULT 0,
    credit_coins    bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (partner_id, day)
);

CREATE TABLE partner_consents (
    consent_id      text PRIMARY KEY,
    user_id         text,
    partner_id      text,
    granted_at      timestamptz,
    revoked_at      timestamptz,
    last_event_time timestamptz NOT NULL
);
CREATE INDEX partner_consents_partner ON partner_consents (partner_id);
