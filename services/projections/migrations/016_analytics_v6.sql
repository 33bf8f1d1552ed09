-- Analysts' views (documented in docs/analytics.md) and the read-only role that may read them.
-- v6 (after 013_promotions_analytics_v5.sql, unchanged from it otherwise): coin_liabilities,
-- over wallet_balances, bonus_lots (014_bonus_lots.sql) and purchases. A rebuild re-runs only
-- the newest *analytics*.sql file, so this one holds every view.
-- The analyst role may connect to this database (and, by default grants, to no service's:
-- eventkit.db revokes CONNECT and TEMPORARY from PUBLIC on every service database).
-- Idempotent on purpose: a rebuild swaps tables in and re-runs this file in the same transaction
-- (dropping a table drops the views over it). Change a view with a NEW *_analytics*.sql file.

DROP SCHEMA IF EXISTS analytics CASCADE;
CREATE SCHEMA analytics;

-- ISO-4217 minor-unit exponents: every charge and settlement currency of the price lists
-- (services/recharge/catalog.json; tests/integration/test_revenue_fx.py checks the coverage)
-- and the payout currencies. A currency missing here gives a NULL effective_fx_rate, not a
-- wrong one.
CREATE VIEW analytics.currency_exponents (currency, exponent) AS
VALUES ('USD', 2), ('EUR', 2), ('GBP', 2), ('JPY', 0), ('KRW', 0);

CREATE VIEW analytics.wallet_balances AS
SELECT user_id, purchased, clawed_back, gifted, unlocked, balance, events, last_event_time
FROM public.wallet_balances;

CREATE VIEW analytics.wallet_statements AS
SELECT user_id, event_id, event_time, kind, coins, reference, counterparty, balance_after,
       sum(coins) OVER (PARTITION BY user_id ORDER BY event_time, event_id) AS running_balance
FROM public.wallet_statements;

CREATE VIEW analytics.creator_earnings AS
SELECT creator_id, gifts_received AS credits, coins_received, diamonds_earned,
       diamonds_available, diamonds_held, diamonds_pending, diamonds_paid,
       diamonds_earned - diamonds_paid AS diamonds_owed, last_event_time
FROM public.creator_earnings;

CREATE VIEW analytics.creator_stream_earnings AS
SELECT creator_id, stream_id, credits, coins, diamonds, last_event_time
FROM public.creator_stream_earnings;

CREATE VIEW analytics.creator_daily_earnings AS
SELECT creator_id, day, credits, coins, diamonds_earned, diamonds_paid, last_event_time
FROM public.creator_daily_earnings;

CREATE VIEW analytics.stream_leaderboard AS
SELECT stream_id, rank() OVER (PARTITION BY stream_id ORDER BY coins DESC) AS rank,
       sender_id, creator_id, gifts, quantity, coins, last_event_time
FROM public.stream_gifters;

CREATE VIEW analytics.stream_combos AS
SELECT stream_id, rank() OVER (PARTITION BY stream_id ORDER BY coins DESC) AS rank,
       combo_id, sender_id, creator_id, gift_code, gifts, quantity, coins, max_combo_count,
       first_event_time, last_event_time
FROM public.stream_combos;

CREATE VIEW analytics.item_unlocks AS
SELECT item_id, owner_id, title, listed_coins, item_version, unlocks, coins, last_event_time
FROM public.item_unlocks;

CREATE VIEW analytics.purchases AS
SELECT purchase_id, user_id, bundle_id, coins, country, channel, currency, price_minor,
       settlement_currency, settlement_minor, fee_minor, fx_rate, provider,
       CASE WHEN clawed_back_at IS NOT NULL THEN 'charged_back'
            WHEN confirmed_at IS NOT NULL THEN 'confirmed'
            WHEN declined_at IS NOT NULL THEN 'declined'
            ELSE 'created' END AS status,
       created_at, confirmed_at, declined_at, decline_reason, clawed_back_at, clawback_reason,
       clawed_back_coins, clawed_back_settlement_minor,
       CASE WHEN refunded_at IS NOT NULL THEN 'refunded'
            WHEN refund_due_at IS NOT NULL THEN 'due' END AS refund_status,
       refund_due_at, refunded_at, refund_minor, refund_id
FROM public.purchases;

CREATE VIEW analytics.purchase_funnel AS
SELECT (coalesce(created_at, confirmed_at, declined_at, clawed_back_at) AT TIME ZONE 'UTC')::date
           AS day,
       country, channel,
       count(*) AS created,
       count(confirmed_at) AS confirmed,
       count(declined_at) FILTER (WHERE decline_reason IS DISTINCT FROM 'timeout') AS declined,
       count(clawed_back_at) AS charged_back,
       count(*) FILTER (WHERE confirmed_at IS NULL AND declined_at IS NULL) AS open,
       round(count(confirmed_at)::numeric / count(*), 4) AS confirmation_rate,
       count(declined_at) FILTER (WHERE decline_reason = 'timeout') AS timed_out,
       count(refund_due_at) AS late_payments,
       count(refunded_at) AS refunded
FROM public.purchases
GROUP BY 1, 2, 3;

-- Sales count on the day they were confirmed, charge-backs on the day they happened.
CREATE VIEW analytics.revenue_daily AS
SELECT day, country, currency, channel, settlement_currency,
       count(*) FILTER (WHERE sale) AS purchases,
       coalesce(sum(coins) FILTER (WHERE sale), 0) AS coins_sold,
       coalesce(sum(price_minor) FILTER (WHERE sale), 0) AS gross_minor,
       coalesce(sum(settlement_minor) FILTER (WHERE sale), 0) AS settlement_minor,
       coalesce(sum(fee_minor) FILTER (WHERE sale), 0) AS fee_minor,
       -- settlement units per charge unit: minor units scaled by each currency's exponent
       round(sum(settlement_minor) FILTER (WHERE sale)::numeric
             / nullif(sum(price_minor) FILTER (WHERE sale), 0)
             * 10::numeric ^ (min(charge_exponent) - min(settle_exponent)), 12)
           AS effective_fx_rate,
       count(*) FILTER (WHERE NOT sale) AS chargebacks,
       coalesce(sum(clawed_back_coins) FILTER (WHERE NOT sale), 0) AS coins_clawed_back,
       coalesce(sum(clawed_back_settlement_minor) FILTER (WHERE NOT sale), 0)
           AS clawed_back_settlement_minor,
       coalesce(sum(settlement_minor - fee_minor) FILTER (WHERE sale), 0)
         - coalesce(sum(clawed_back_settlement_minor) FILTER (WHERE NOT sale), 0) AS net_minor
FROM (
    SELECT (confirmed_at AT TIME ZONE 'UTC')::date AS day, true AS sale, * FROM public.purchases
    WHERE confirmed_at IS NOT NULL
    UNION ALL
    SELECT (clawed_back_at AT TIME ZONE 'UTC')::date, false, * FROM public.purchases
    WHERE clawed_back_at IS NOT NULL
) AS movements
LEFT JOIN analytics.currency_exponents AS charge (charge_currency, charge_exponent)
    ON charge_currency = movements.currency
LEFT JOIN analytics.currency_exponents AS settle (settle_currency, settle_exponent)
    ON settle_currency = movements.settlement_currency
GROUP BY day, country, currency, channel, settlement_currency;

CREATE VIEW analytics.platform_commission_daily AS
SELECT day, source, events, coins, commission_coins, last_event_time
FROM public.platform_commission_daily;

CREATE VIEW analytics.payouts AS
SELECT payout_id, creator_id, diamonds, currency, amount_minor, usd_per_diamond, fx_rate, method,
       requires_review,
       CASE WHEN completed_at IS NOT NULL THEN 'completed'
            WHEN failed_at IS NOT NULL THEN 'failed'
            WHEN submitted_at IS NOT NULL THEN 'submitted'
            WHEN approved_at IS NOT NULL THEN 'approved'
            ELSE 'requested' END AS status,
       requested_at, approved_at, submitted_at, completed_at, paid_amount_minor, failed_at,
       failure_reason
FROM public.payouts;

CREATE VIEW analytics.payout_liabilities AS
SELECT count(*) AS creators,
       coalesce(sum(diamonds_earned - diamonds_paid), 0) AS diamonds_owed,
       coalesce(sum(diamonds_available), 0) AS diamonds_available,
       coalesce(sum(diamonds_held), 0) AS diamonds_held,
       coalesce(sum(diamonds_pending), 0) AS diamonds_pending,
       coalesce(sum(diamonds_paid), 0) AS diamonds_paid
FROM public.creator_earnings;

CREATE VIEW analytics.open_payouts_by_currency AS
SELECT currency, count(*) AS payouts, sum(diamonds) AS diamonds, sum(amount_minor) AS amount_minor
FROM public.payouts
WHERE completed_at IS NULL AND failed_at IS NULL AND requested_at IS NOT NULL
GROUP BY currency;

CREATE VIEW analytics.freshness AS
SELECT (SELECT max(event_time) FROM public.projected_events) AS last_event_time,
       (SELECT sum(greatest(end_offset - next_offset, 0)) FROM public.worker_status)
           AS lag_events,
       (SELECT max(measured_at) FROM public.worker_status) AS lag_measured_at;

-- A creator's reserve: diamonds credited per release time (held: still in reserve or released
-- since; the dashboard tells them apart with creator_reserves' held - released).
CREATE VIEW analytics.reserve_lots AS
SELECT l.creator_id, l.release_at, l.credits, l.diamonds, l.last_event_time
FROM public.creator_reserve_lots l;

CREATE VIEW analytics.creator_reserves AS
SELECT creator_id, held, released, held - released AS still_held, last_event_time
FROM public.creator_reserves;

CREATE VIEW analytics.gifts_per_minute AS
SELECT stream_id, minute, creator_id, gifts, quantity, coins, last_event_time
FROM public.stream_gift_minutes;

CREATE VIEW analytics.dead_letters AS
SELECT consumer, topic, reason, messages, first_seen, last_seen, example
FROM public.dead_letter_counts;

CREATE VIEW analytics.reconcile_runs AS
SELECT run_id, finished_at, discrepancies, discrepancies = 0 AS ok, checks
FROM public.reconcile_runs;

-- Promotions (docs/promotions.md): a campaign's terms and how much of its caps is used, its
-- redemptions per UTC day and country, and what it cost: the bonus coins it gave (the wallet's
-- bonus lots say how many were spent or expired) and the price its discounts gave up.
CREATE VIEW analytics.promo_campaigns AS
SELECT campaign_id, name, kind, countries, starts_at, ends_at, max_redemptions, per_user_limit,
       reward_coins, discount_bp, bonus_expires_after_days, created_by, created_at,
       code_batches, codes_issued, redemptions,
       max_redemptions - redemptions AS redemptions_left, last_event_time
FROM public.promo_campaigns;

CREATE VIEW analytics.promo_redemptions_daily AS
SELECT campaign_id, day, country, redemptions, bonus_redemptions, bonus_coins,
       discount_redemptions, discount_currency, discount_minor, settlement_currency,
       discount_settlement_minor, last_event_time
FROM public.promo_redemption_days;

CREATE VIEW analytics.campaign_cost AS
SELECT campaign_id, name, kind, redemptions, bonus_coins AS bonus_coins_granted,
       discount_redemptions, discount_currency, discount_minor, settlement_currency,
       discount_settlement_minor, last_event_time
FROM public.promo_campaigns;

-- Coins the platform owes, per buyer region: purchased coins (fans' money) apart from bonus
-- coins (marketing's, docs/bonus-lots.md). A wallet's purchased part is its balance less its
-- lots' outstanding coins (below zero: a chargeback's debt). A wallet counts in the country,
-- charge currency and settlement currency of its latest purchase that kept its coins (none:
-- NULLs), and its purchased coins are valued at what its purchases in that currency paid per
-- coin on average (price and settlement, rounded to the minor unit once per row). Bonus coins
-- were paid by nobody, so they have no fiat value here; a lot past its expires_at that the
-- expiry worker has not reached yet can no longer be spent (bonus_coins_due).
CREATE VIEW analytics.coin_liabilities AS
WITH kept AS (
    SELECT user_id, country, currency, settlement_currency, sum(coins) AS coins,
           sum(price_minor) AS price_minor, sum(settlement_minor) AS settlement_minor,
           max(confirmed_at) AS last_confirmed_at
    FROM public.purchases
    WHERE confirmed_at IS NOT NULL AND clawed_back_at IS NULL AND coins > 0
    GROUP BY user_id, country, currency, settlement_currency
), home AS (
    SELECT DISTINCT ON (user_id) *
    FROM kept
    ORDER BY user_id, last_confirmed_at DESC, country, currency, settlement_currency
), lots AS (
    SELECT user_id, sum(outstanding) AS outstanding,
           sum(outstanding) FILTER (WHERE expires_at IS NULL OR expires_at > now()) AS open,
           sum(outstanding) FILTER (WHERE expires_at <= now()) AS due
    FROM public.bonus_lots
    GROUP BY user_id
), wallets AS (
    SELECT w.user_id, w.balance - coalesce(l.outstanding, 0) AS purchased,
           coalesce(l.open, 0) AS bonus_open, coalesce(l.due, 0) AS bonus_due
    FROM public.wallet_balances w LEFT JOIN lots l USING (user_id)
)
SELECT h.country, h.currency, h.settlement_currency,
       count(*) AS wallets,
       sum(greatest(w.purchased, 0)) AS purchased_coins,
       sum(greatest(-w.purchased, 0)) AS debt_coins,
       sum(w.bonus_open) AS bonus_coins,
       sum(w.bonus_due) AS bonus_coins_due,
       round(sum(greatest(w.purchased, 0) * h.price_minor::numeric / h.coins))::bigint
           AS purchased_value_minor,
       round(sum(greatest(w.purchased, 0) * h.settlement_minor::numeric / h.coins))::bigint
           AS purchased_settlement_minor
FROM wallets w LEFT JOIN home h USING (user_id)
GROUP BY h.country, h.currency, h.settlement_currency;

-- The read-only role (cluster-wide, so create it once; concurrent creators may race). The
-- migration step makes it first (eventkit/roles.py): the owner running this may not create roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coinstream_analyst') THEN
        CREATE ROLE coinstream_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA analytics TO coinstream_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO coinstream_analyst;
-- Nothing else: no tables in public are granted to it, and nobody but the owner may create
-- objects here (temp tables included).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO coinstream_analyst', current_database());
END $$;
