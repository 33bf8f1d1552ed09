"""Kafka topics of the contract. Each service publishes only to its own events topic."""

RECHARGE_EVENTS = "coinstream.recharge.events"
SANCTIONS_EVENTS = "coinstream.sanctions.events"  # published by recharge (owner of sanctions)
GIFTING_EVENTS = "coinstream.gifting.events"
PAYOUT_EVENTS = "coinstream.payout.events"
ACCOUNTS_EVENTS = "coinstream.accounts.events"  # published by the external account service
MODERATION_COMMANDS = "coinstream.moderation.commands"  # consumed by recharge
DEAD_LETTER = "coinstream.deadletter"

ALL = (
    RECHARGE_EVENTS,
    SANCTIONS_EVENTS,
    GIFTING_EVENTS,
    PAYOUT_EVENTS,
    ACCOUNTS_EVENTS,
    MODERATION_COMMANDS,
    DEAD_LETTER,
)
PARTITIONS = 4
