"""The dashboards' SQL: one statement per panel, each bounded by a creator, a stream, a capped
day range or a LIMIT, over an index (migrations/007_dashboard_indexes.sql). The read API's login
reads the base tables; each panel names the `analytics.*` view whose rows it shows (same columns
and meaning, docs/analytics.md), filtered before the view's window or grouping where the view
would otherwise read every row."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    view: str  # the analytics.* view an analyst would query for the same rows
    sql: str


TOP = 10

# -- creator (always the caller's own creator_id, $1) --------------------------------------
CREATOR_TOTALS = Panel(
    "totals",
    "analytics.creator_earnings",
    "SELECT gifts_received AS credits, coins_received, diamonds_earned, diamonds_available,"
    " diamonds_held, diamonds_pending, diamonds_paid, diamonds_earned - diamonds_paid"
    " AS diamonds_owed FROM creator_earnings WHERE creator_id = $1",
)
CREATOR_DAYS = Panel(
    "days",
    "analytics.creator_daily_earnings",
    "SELECT day, credits, coins, diamonds_earned, diamonds_paid FROM creator_daily_earnings"
    " WHERE creator_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day",
)
CREATOR_STREAMS = Panel(
    "streams",
    "analytics.creator_stream_earnings",
    "SELECT stream_id, credits, coins, diamonds FROM creator_stream_earnings"
    " WHERE creator_id = $1 AND last_event_time >= $2::date AND last_event_time < $3::date + 1"
    " ORDER BY diamonds DESC, stream_id LIMIT 50",
)
CREATOR_GIFT_TYPES = Panel(
    "gift_types",
    "analytics.stream_combos",
    "SELECT gift_code, sum(gifts)::bigint AS gifts, sum(quantity)::bigint AS quantity,"
    " sum(coins)::bigint AS coins FROM stream_combos WHERE creator_id = $1"
    " GROUP BY gift_code ORDER BY coins DESC, gift_code LIMIT 50",
)
CREATOR_GIFTERS = Panel(
    "gifters",
    "analytics.stream_leaderboard",
    "SELECT sender_id, sum(gifts)::bigint AS gifts, sum(coins)::bigint AS coins,"
    " count(*)::bigint AS streams FROM stream_gifters WHERE creator_id = $1"
    " GROUP BY sender_id ORDER BY coins DESC, sender_id LIMIT 10",
)
# One stream of the caller's (the stream_id is checked against creator_id in the query).
STREAM_GIFTERS = Panel(
    "stream_gifters",
    "analytics.stream_leaderboard",
    "SELECT rank() OVER (ORDER BY coins DESC)::bigint AS rank, sender_id, gifts, quantity, coins"
    " FROM stream_gifters WHERE stream_id = $1 AND creator_id = $2"
    " ORDER BY coins DESC, sender_id LIMIT 10",
)
CREATOR_PAYOUTS = Panel(
    "payouts",
    "analytics.payouts",
    "SELECT payout_id, requested_at, diamonds, currency, amount_minor, method,"
    " CASE WHEN completed_at IS NOT NULL THEN 'completed' WHEN failed_at IS NOT NULL"
    " THEN 'failed' WHEN submitted_at IS NOT NULL THEN 'submitted' WHEN approved_at IS NOT NULL"
    " THEN 'approved' ELSE 'requested' END AS status, completed_at, failure_reason"
    " FROM payouts WHERE creator_id = $1 ORDER BY requested_at DESC NULLS LAST, payout_id"
    " LIMIT 50",
)

# -- analyst ($1, $2: the day range) ---------------------------------------------------------
REVENUE = Panel(
    "revenue",
    "analytics.revenue_daily",
    "SELECT day, country, currency, channel, settlement_currency, purchases, coins_sold,"
    " gross_minor, settlement_minor, fee_minor, chargebacks, net_minor"
    " FROM analytics.revenue_daily WHERE day BETWEEN $1 AND $2"
    " ORDER BY day, country, currency, channel, settlement_currency LIMIT 5000",
)
FUNNEL = Panel(
    "funnel",
    "analytics.purchase_funnel",
    "SELECT coalesce(sum(created), 0)::bigint AS created,"
    " coalesce(sum(confirmed), 0)::bigint AS confirmed,"
    " coalesce(sum(declined), 0)::bigint AS declined,"
    " coalesce(sum(timed_out), 0)::bigint AS timed_out,"
    " coalesce(sum(charged_back), 0)::bigint AS charged_back,"
    " coalesce(sum(open), 0)::bigint AS open"
    " FROM analytics.purchase_funnel WHERE day BETWEEN $1 AND $2",
)
COMMISSION = Panel(
    "commission",
    "analytics.platform_commission_daily",
    "SELECT day, source, events, coins, commission_coins::text AS commission_coins"
    " FROM analytics.platform_commission_daily WHERE day BETWEEN $1 AND $2 ORDER BY day, source",
)
LIABILITIES = Panel(
    "liabilities",
    "analytics.payout_liabilities",
    "SELECT creators, diamonds_owed, diamonds_available, diamonds_held, diamonds_pending,"
    " diamonds_paid FROM analytics.payout_liabilities",
)
OPEN_PAYOUTS = Panel(
    "open_payouts",
    "analytics.open_payouts_by_currency",
    "SELECT currency, payouts, diamonds, amount_minor FROM analytics.open_payouts_by_currency"
    " ORDER BY currency",
)
TOP_CREATORS = Panel(
    "top_creators",
    "analytics.creator_daily_earnings",
    "SELECT creator_id, sum(diamonds_earned)::bigint AS diamonds_earned,"
    " sum(coins)::bigint AS coins, sum(credits)::bigint AS credits"
    " FROM creator_daily_earnings WHERE day BETWEEN $1 AND $2"
    " GROUP BY creator_id ORDER BY diamonds_earned DESC, creator_id LIMIT 10",
)

# -- ops ------------------------------------------------------------------------------------
LAG = Panel(
    "lag",
    "analytics.freshness",
    "SELECT 'projections' AS consumer, topic, \"partition\", end_offset, next_offset,"
    " greatest(end_offset - next_offset, 0) AS lag, measured_at FROM worker_status"
    ' ORDER BY topic, "partition" LIMIT 500',
)
FRESHNESS = Panel(
    "freshness",
    "analytics.freshness",
    "SELECT last_event_time, lag_events, lag_measured_at,"
    " extract(epoch FROM now() - last_event_time)::float8 AS age_seconds FROM analytics.freshness",
)

# -- the reserve, gifts per minute, dead letters, reconcile (migration 008) -------------------
# The lots still held are the newest whose diamonds add up to the creator's held - released
# (panels.py says why); walked newest first over the (creator_id, release_at) key, at most
# RESERVE_SCAN lots (a creator with more lots than that inside one reserve window would see a
# next release later than the true one: then `scanned` says so). The oldest lot still held may
# be partly released (a release batch split lots of one instant): its remainder is shown.
RESERVE_SCAN = 5000
RESERVE = Panel(
    "reserve",
    "analytics.reserve_lots",
    "SELECT release_at, credits, least(diamonds, still - (later - diamonds))::bigint AS diamonds,"
    " scanned FROM (SELECT release_at, credits, diamonds, count(*) OVER () AS scanned,"
    " sum(diamonds) OVER (ORDER BY release_at DESC) AS later FROM (SELECT release_at, credits,"
    " diamonds FROM creator_reserve_lots WHERE creator_id = $1 ORDER BY release_at DESC"
    f" LIMIT {RESERVE_SCAN}) newest) lots,"
    " (SELECT held - released AS still FROM creator_reserves WHERE creator_id = $1) r"
    " WHERE later - diamonds < still ORDER BY release_at LIMIT 10",
)


def _minutes_between(first: str, last: str) -> str:
    """The UTC minutes of the days `first`..`last` (SQL parameters), both included."""
    return (
        f"minute >= ({first}::date)::timestamp AT TIME ZONE 'UTC'"
        f" AND minute < ({last}::date + 1)::timestamp AT TIME ZONE 'UTC'"
    )


MINUTES_CAP = 1440  # a day of minutes per request
# The analyst's default stream: the one with the newest gift in the day range.
LATEST_STREAM = Panel(
    "latest_stream",
    "analytics.gifts_per_minute",
    f"SELECT stream_id FROM stream_gift_minutes WHERE {_minutes_between('$1', '$2')}"
    " ORDER BY minute DESC LIMIT 1",
)
GIFTS_PER_MINUTE = Panel(
    "gifts_per_minute",
    "analytics.gifts_per_minute",
    "SELECT minute, gifts, quantity, coins FROM stream_gift_minutes WHERE stream_id = $1"
    f" AND {_minutes_between('$2', '$3')} ORDER BY minute LIMIT {MINUTES_CAP}",
)

DEAD_LETTER_REASONS = Panel(
    "dead_letter_reasons",
    "analytics.dead_letters",
    "SELECT consumer, topic, reason, messages, first_seen, last_seen, example"
    " FROM dead_letter_counts ORDER BY messages DESC, consumer, topic, reason LIMIT 200",
)
RECONCILE = Panel(
    "reconcile",
    "analytics.reconcile_runs",
    "SELECT run_id, finished_at, discrepancies, checks FROM reconcile_runs"
    " ORDER BY finished_at DESC LIMIT 1",
)
