"""Kafka header names of the contract: the signature every owned topic's message carries, and
what a dead-lettered message carries besides its own key and value."""

KEY_ID = "coinstream-key-id"  # ASCII key id of the publisher's signing key
SIGNATURE = "coinstream-signature"  # the raw 64-byte Ed25519 signature

# In this order on every dead-lettered message (eventkit.deadletter writes them).
DEAD_LETTER = ("reason", "topic", "partition", "offset", "consumer")
