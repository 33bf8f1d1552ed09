-- Every credit (one per source event: GiftSent or ContentUnlocked), with the part held in reserve
-- until release_at. released_at is set exactly once by the worker (conditional UPDATE).
CREATE TABLE credits (
    source_event_id   uuid PRIMARY KEY,
    creator_id        text        NOT NULL,
    source            text        NOT NULL CHECK (source IN ('gift', 'unlock')),
    source_id         text        NOT NULL,
    stream_id         text,
    coins             bigint      NOT NULL CHECK (coins >= 0),
    diamonds_per_coin numeric     NOT NULL,
    diamonds          bigint      NOT NULL CHECK (diamonds >= 0),
    held              bigint      NOT NULL CHECK (held >= 0 AND held <= diamonds),
    earned_at         timestamptz NOT NULL,
    release_at        timestamptz,
    released_at       timestamptz
);
CREATE INDEX credits_creator ON credits (creator_id, earned_at);
CREATE INDEX credits_due ON credits (release_at) WHERE held > 0 AND released_at IS NULL;

ALTER TABLE creators ADD CONSTRAINT figures_not_negative
    CHECK (earned >= 0 AND held >= 0 AND pending >= 0 AND paid >= 0);

-- The payout lifecycle. review -> pending (approved) -> submitted -> completed | failed | voided;
-- review -> failed (rejected). Every move is a conditional UPDATE on status, so it happens once.
ALTER TABLE payouts
    ADD COLUMN usd_minor       bigint      NOT NULL DEFAULT 0,
    ADD COLUMN requires_review boolean     NOT NULL DEFAULT false,
    ADD COLUMN requested_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN day             date,
    ADD COLUMN settle_by       timestamptz,
    ADD COLUMN provider        text,
    ADD COLUMN provider_ref    text,
    ADD COLUMN reason          text,
    ADD COLUMN detail          text,
    ADD COLUMN resolved_at     timestamptz,
    ADD CONSTRAINT payout_status CHECK (status IN
        ('review', 'pending', 'submitted', 'completed', 'failed', 'voided'));
CREATE INDEX payouts_open ON payouts (status, settle_by)
    WHERE status IN ('pending', 'submitted');
CREATE UNIQUE INDEX payouts_provider_ref ON payouts (provider, provider_ref);

-- USD minor units reserved per creator per UTC day; the cap is checked in the same upsert that
-- adds to it, so concurrent requests cannot together exceed it.
CREATE TABLE payout_days (
    creator_id text   NOT NULL,
    day        date   NOT NULL,
    usd_minor  bigint NOT NULL CHECK (usd_minor >= 0),
    PRIMARY KEY (creator_id, day)
);

CREATE TABLE payout_methods (
    creator_id text PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('bank', 'paypal')),
    details    jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Transaction bans from the sanctions topic (the recharge service owns them).
CREATE TABLE bans (
    ban_id     text PRIMARY KEY,
    user_id    text        NOT NULL,
    scopes     text[]      NOT NULL DEFAULT '{}',
    expires_at timestamptz,
    lifted_at  timestamptz
);
CREATE INDEX bans_user ON bans (user_id);
