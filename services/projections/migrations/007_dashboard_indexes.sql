-- Indexes for the dashboard's range queries (services/projections/dashboard): every query
-- there is bounded by a creator, a stream or a capped day range, and each bound has an index.
-- A rebuild copies them (CREATE TABLE ... LIKE ... INCLUDING ALL).

-- Top creators over a day range; commission is already keyed by (day, source).
CREATE INDEX IF NOT EXISTS creator_daily_earnings_by_day ON creator_daily_earnings (day);
-- A creator's gifters over every stream, and gift types (combos) of a creator.
CREATE INDEX IF NOT EXISTS stream_gifters_by_creator ON stream_gifters (creator_id);
CREATE INDEX IF NOT EXISTS stream_combos_by_creator ON stream_combos (creator_id, gift_code);
-- A creator's payout history, newest first.
CREATE INDEX IF NOT EXISTS payouts_by_creator ON payouts (creator_id, requested_at DESC);
-- analytics.revenue_daily and analytics.purchase_funnel filtered by day: the days as the views
-- compute them (UTC days of the event times).
CREATE INDEX IF NOT EXISTS purchases_confirmed_day
    ON purchases (((confirmed_at AT TIME ZONE 'UTC')::date));
CREATE INDEX IF NOT EXISTS purchases_clawed_back_day
    ON purchases (((clawed_back_at AT TIME ZONE 'UTC')::date));
CREATE INDEX IF NOT EXISTS purchases_funnel_day
    ON purchases (((coalesce(created_at, confirmed_at, declined_at, clawed_back_at)
                    AT TIME ZONE 'UTC')::date));
