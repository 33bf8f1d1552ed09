"""Kafka header names of the contract: the signature every owned topic's message carries, and
what a dead-lettered message carries besides its own key and value."""

KEY_ID = "coinstream-key-id"  # ASCII key id of the publisher's signing key
SIGNATURE = "coinstream-signature"  # the raw 64-byte Ed25519 signature

# In this order on every dead-lettered message (eventkit.deadletter writes them).
DEAD_LETTER = ("reason", "topic", "partition", "offset", "consumer")

# The CloudEvents Kafka protocol binding, structured content mode: the value is the whole
# CloudEvent as JSON (the envelope), announced by this header (docs/contract.md says why).
CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
# Binary mode's attribute headers; in structured mode they are optional copies of attributes.
CE_PREFIX = "ce_"
