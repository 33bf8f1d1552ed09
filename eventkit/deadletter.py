"""What a dead-lettered message carries besides its own key and value, for whoever reads the
dead-letter topic (every consumer and the projections worker write the same headers)."""

from schemas import headers

# A header stays far below the broker's message size limit however long the reason.
MAX_REASON_BYTES = 4000


def dead_letter_headers(
    reason: str, topic: str, partition: int, offset: int, consumer: str
) -> list[tuple[str, bytes]]:
    """Why the message cannot be applied, where it was read and by which consumer group."""
    values = (reason.encode()[:MAX_REASON_BYTES], topic, str(partition), str(offset), consumer)
    encoded = (v if isinstance(v, bytes) else v.encode() for v in values)
    return list(zip(headers.DEAD_LETTER, encoded, strict=True))
