"""The one place an older payload version becomes the version consumers read.

A breaking change gets a new version (schemas/COMPATIBILITY.md); the old one stays readable
because messages already on the topics keep it. Consumers only ever handle the newest version
of a type: eventkit.codec.decode passes every payload through `upcast`, so a handler never
meets the older shape. Publishers may go on emitting the older version until every consumer
reads the newer one.
"""

from collections.abc import Callable

from schemas.events.base import Payload
from schemas.events.gifting import WHOLE_BP, GiftSent, GiftSentV2, Recipient


def gift_sent_v2(v1: GiftSent) -> GiftSentV2:
    """A v1 gift had one creator: the only recipient, with the whole gift."""
    fields = v1.model_dump(exclude={"creator_id"})
    return GiftSentV2(
        **fields, recipients=(Recipient(creator_id=v1.creator_id, share_bp=WHOLE_BP),)
    )


# Each older version's step to the next one; upcast follows them to the newest.
STEPS: dict[type[Payload], Callable] = {GiftSent: gift_sent_v2}


def upcast(payload: Payload) -> Payload:
    """The payload as the newest version of its type (unchanged when it is already that)."""
    while (step := STEPS.get(type(payload))) is not None:
        payload = step(payload)
    return payload
