-- Each creator's diamond balance; available = earned - held - pending - paid, never negative.
CREATE TABLE creators (
    creator_id text PRIMARY KEY,
    earned     bigint  NOT NULL DEFAULT 0,
    held       bigint  NOT NULL DEFAULT 0,
    pending    bigint  NOT NULL DEFAULT 0,
    paid       bigint  NOT NULL DEFAULT 0,
    version    integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT available_not_negative CHECK (earned - held - pending - paid >= 0)
);

CREATE TABLE payouts (
    payout_id    uuid PRIMARY KEY,
    creator_id   text    NOT NULL,
    diamonds     bigint  NOT NULL CHECK (diamonds > 0),
    amount_minor bigint  NOT NULL,
    currency     text    NOT NULL,
    method       text    NOT NULL,
    status       text    NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payouts_creator ON payouts (creator_id, created_at);
