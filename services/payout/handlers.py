"""What the payout service does with events it consumes."""

from eventkit.codec import new_envelope
from eventkit.consumer import Handler
from eventkit.eventstore import append
from schemas import topics
from schemas.events.gifting import GiftSent
from schemas.events.payout import DiamondsCredited
from services.payout.conversion import diamonds_for

SOURCE = "/coinstream/payout"


async def on_gift_sent(conn, envelope, gift: GiftSent) -> None:
    """Credits the creator at the rate recorded on the gift, and says so (DiamondsCredited)."""
    diamonds = diamonds_for(gift.coins, gift.diamonds_per_coin)
    row = await conn.fetchrow(
        "INSERT INTO creators (creator_id, earned, version) VALUES ($1, $2, 1)"
        " ON CONFLICT (creator_id) DO UPDATE SET earned = creators.earned + EXCLUDED.earned,"
        " version = creators.version + 1, updated_at = now() RETURNING earned, version",
        gift.creator_id, diamonds)
    stream = gift.context.id if gift.context.kind == "live" else None
    await append(conn, topics.PAYOUT_EVENTS, new_envelope(SOURCE, DiamondsCredited(
        creator_id=gift.creator_id, gift_event_id=str(envelope.id), gift_id=gift.gift_id,
        stream_id=stream, diamonds=diamonds, earned_after=row["earned"]),
        aggregate_id=f"creator-{gift.creator_id}", aggregate_version=row["version"],
        correlation_id=envelope.correlationid, causation_id=envelope.id))


HANDLERS: dict[str, Handler] = {"GiftSent": on_gift_sent}
