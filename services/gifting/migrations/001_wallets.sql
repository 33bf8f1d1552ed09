-- The spendable coin balance of every wallet. There is no CHECK (balance >= 0): clawbacks may
-- take a balance below zero. What refuses an overdraft is the spend itself, a conditional UPDATE
-- (balance >= price) inside PostgreSQL: gifts.py (_SEND) and ledger.spend (unlocks, through
-- spending.debit). Concurrent spends serialise on the row lock and each re-checks the balance.
CREATE TABLE wallets (
    user_id    text PRIMARY KEY,
    balance    bigint  NOT NULL DEFAULT 0,
    version    integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every balance change, with the event that caused it and the balance after it.
CREATE TABLE wallet_ledger (
    entry_id      bigserial PRIMARY KEY,
    user_id       text    NOT NULL,
    event_id      uuid    NOT NULL UNIQUE,
    kind          text    NOT NULL,
    delta         bigint  NOT NULL,
    balance_after bigint  NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wallet_ledger_user ON wallet_ledger (user_id, entry_id);
