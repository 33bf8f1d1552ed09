"""What the payout service does with events it consumes: credits from gifts and unlocks, and
the transaction bans it must enforce on withdrawals."""

from eventkit.consumer import Handler
from schemas.events.gifting import ContentUnlocked, GiftSent
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from services.payout.conversion import load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit

PLATFORM = "platform"  # unlocks of platform-owned items earn no creator anything


def reserve() -> Reserve:
    return Reserve.from_config(load_config()["reserve"])


async def on_gift_sent(conn, envelope, gift: GiftSent) -> None:
    """Credits the creator at the rate recorded on the gift (DiamondsCredited), part held."""
    stream = gift.context.id if gift.context.kind == "live" else None
    await credit(conn, envelope, Credit(gift.creator_id, "gift", gift.gift_id, stream,
                                        gift.coins, gift.diamonds_per_coin), reserve())


async def on_content_unlocked(conn, envelope, unlock: ContentUnlocked) -> None:
    if unlock.owner_id == PLATFORM:
        return
    await credit(conn, envelope, Credit(unlock.owner_id, "unlock", unlock.unlock_id, None,
                                        unlock.coins, unlock.diamonds_per_coin), reserve())


async def on_ban_placed(conn, envelope, ban: TransactionBanPlaced) -> None:
    # A lift may arrive first (other partition order); it then already set lifted_at.
    await conn.execute(
        "INSERT INTO bans (ban_id, user_id, scopes, expires_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (ban_id) DO UPDATE SET user_id = EXCLUDED.user_id,"
        " scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at",
        ban.ban_id, ban.user_id, list(ban.scopes), ban.expires_at)


async def on_ban_lifted(conn, envelope, lift: TransactionBanLifted) -> None:
    await conn.execute(
        "INSERT INTO bans (ban_id, user_id, lifted_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (ban_id) DO UPDATE SET lifted_at = EXCLUDED.lifted_at",
        lift.ban_id, lift.user_id, envelope.time)


HANDLERS: dict[str, Handler] = {
    "GiftSent": on_gift_sent, "ContentUnlocked": on_content_unlocked,
    "TransactionBanPlaced": on_ban_placed, "TransactionBanLifted": on_ban_lifted,
}
