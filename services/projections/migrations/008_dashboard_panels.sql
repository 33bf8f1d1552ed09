-- Read models and records behind the dashboards' last panels (services/projections/panels.py,
-- dead_letters.py, scripts/reconcile_record.py). Their analytics views: 008_panels_analytics_v4.sql.

-- The reserve: diamonds held per creator and release time (DiamondsCredited.held / release_at),
-- and the creator's held and released totals. Releases (DiamondsReleased) name no lot: the payout
-- worker releases lots in release_at order, so the lots still held are the newest ones whose
-- diamonds add up to held - released (dashboard/queries.py walks them newest first).
CREATE TABLE IF NOT EXISTS creator_reserve_lots (
    creator_id text NOT NULL,
    release_at timestamptz NOT NULL,
    credits bigint NOT NULL DEFAULT 0,
    diamonds bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz,
    PRIMARY KEY (creator_id, release_at)
);
CREATE TABLE IF NOT EXISTS creator_reserves (
    creator_id text PRIMARY KEY,
    held bigint NOT NULL DEFAULT 0,
    released bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz
);

-- Gifts per stream and UTC minute of the gift's own time (GiftSent / GiftSentV2, live only).
CREATE TABLE IF NOT EXISTS stream_gift_minutes (
    stream_id text NOT NULL,
    minute timestamptz NOT NULL,
    creator_id text,
    gifts bigint NOT NULL DEFAULT 0,
    quantity bigint NOT NULL DEFAULT 0,
    coins bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz,
    PRIMARY KEY (stream_id, minute)
);
-- The analyst's default stream: the one with the newest gift minute in a day range.
CREATE INDEX IF NOT EXISTS stream_gift_minutes_by_minute ON stream_gift_minutes (minute);

-- The dead-letter topic's messages counted by the consumer that refused them, the topic they
-- were read from and the class of their reason (its text up to the first ": "), read by the
-- projections worker from the topic itself, effectively once per message: the counts and the
-- position per partition commit together.
CREATE TABLE IF NOT EXISTS dead_letter_counts (
    consumer text NOT NULL,
    topic text NOT NULL,
    reason text NOT NULL,
    messages bigint NOT NULL DEFAULT 0,
    first_seen timestamptz,
    last_seen timestamptz,
    last_seen_us bigint,
    example text,
    PRIMARY KEY (consumer, topic, reason)
);
CREATE TABLE IF NOT EXISTS dead_letter_positions (
    "partition" integer PRIMARY KEY,
    next_offset bigint NOT NULL
);

-- What `make reconcile` (scripts/reconcile.py) found, one row per run. The reconciler's login
-- (<prefix>_auditor, SELECT only everywhere else) may INSERT here and nothing more.
CREATE TABLE IF NOT EXISTS reconcile_runs (
    run_id uuid PRIMARY KEY,
    finished_at timestamptz NOT NULL,
    discrepancies integer NOT NULL,
    checks jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS reconcile_runs_newest ON reconcile_runs (finished_at DESC);
DO $$
DECLARE
    auditor text := regexp_replace(current_user, '_projections_owner$', '_auditor');
BEGIN
    IF auditor <> current_user AND EXISTS (SELECT FROM pg_roles WHERE rolname = auditor) THEN
        EXECUTE format('GRANT INSERT ON reconcile_runs TO %I', auditor);
    END IF;
END $$;
