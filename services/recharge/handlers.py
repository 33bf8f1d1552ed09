"""What the recharge consumer does with the moderation topic: transaction-ban commands, turned
into bans and announced on the sanctions topic. Moderation's ban ids are kept under a `mod-`
prefix, apart from admin and fraud bans."""

import asyncpg

from eventkit.consumer import Handlers, handle
from schemas.envelope import Envelope
from schemas.events.sanctions import LiftTransactionBan, PlaceTransactionBan
from services.recharge import bans


async def on_place(conn: asyncpg.Connection, envelope: Envelope, cmd: PlaceTransactionBan) -> None:
    await bans.place(
        conn,
        f"mod-{cmd.ban_id}",
        cmd.user_id,
        list(dict.fromkeys(cmd.scopes)),
        cmd.reason,
        "moderation",
        cmd.expires_at,
        cause=envelope,
    )


async def on_lift(conn: asyncpg.Connection, envelope: Envelope, cmd: LiftTransactionBan) -> None:
    await bans.lift(
        conn, f"mod-{cmd.ban_id}", cmd.user_id, cmd.reason, "moderation", cause=envelope
    )


HANDLERS: Handlers = dict(
    [handle(PlaceTransactionBan, on_place), handle(LiftTransactionBan, on_lift)]
)
