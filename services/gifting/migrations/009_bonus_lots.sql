-- Bonus lots (docs/bonus-lots.md): coins a promotion granted (BonusCoinsGranted), kept apart
-- from purchased coins. A wallet's balance is its purchased part plus `bonus`, the sum of its
-- lots' remaining coins; `bonus` lets a spender with no lots be told apart from the wallet row
-- alone (no lot read), and the purchased part is balance - bonus (below zero after a
-- chargeback: a debt, which blocks spending).
ALTER TABLE wallets ADD COLUMN bonus bigint NOT NULL DEFAULT 0 CHECK (bonus >= 0);

-- One row per lot, written only while its wallet row is locked (the grant's credit, a spend
-- batch, the expiry worker), so whoever holds the wallet lock reads the lots as they are.
CREATE TABLE wallet_lots (
    lot_id      text PRIMARY KEY,  -- the grant_id
    user_id     text   NOT NULL,
    campaign_id text   NOT NULL,
    source      text   NOT NULL,
    purchase_id text,
    granted     bigint NOT NULL CHECK (granted > 0),
    remaining   bigint NOT NULL CHECK (remaining >= 0 AND remaining <= granted),
    expires_at  timestamptz,
    granted_at  timestamptz NOT NULL,
    event_id    uuid   NOT NULL,  -- the BonusCoinsGranted
    expired     bigint NOT NULL DEFAULT 0 CHECK (expired >= 0),
    expired_at  timestamptz
);
-- A spender's open lots in spend order; the expiry worker's due lots.
CREATE INDEX wallet_lots_open ON wallet_lots (user_id, expires_at, granted_at, lot_id)
    WHERE remaining > 0;
CREATE INDEX wallet_lots_due ON wallet_lots (expires_at) WHERE remaining > 0;
