"""Kafka topics of the contract. Each service publishes only to its own events topic."""

RECHARGE_EVENTS = "coinstream.recharge.events"
GIFTING_EVENTS = "coinstream.gifting.events"
PAYOUT_EVENTS = "coinstream.payout.events"
DEAD_LETTER = "coinstream.deadletter"

ALL = (RECHARGE_EVENTS, GIFTING_EVENTS, PAYOUT_EVENTS, DEAD_LETTER)
PARTITIONS = 4
