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

# Who may write each topic (its owner, whose key signs its events) and who reads it: the Kafka
# ACLs (infra) and the signature checks (eventkit) both come from this one table. A principal
# is a service role or an outside publisher; everyone may write DEAD_LETTER, and only
# projections reads it (besides operators, as the broker's super user): it counts the dead
# letters by reason from their headers for the ops view (services/projections/dead_letters.py).
OWNER = {
    RECHARGE_EVENTS: "recharge",
    SANCTIONS_EVENTS: "recharge",
    GIFTING_EVENTS: "gifting",
    PAYOUT_EVENTS: "payout",
    ACCOUNTS_EVENTS: "accounts",
    MODERATION_COMMANDS: "moderation",
}
READERS = {
    RECHARGE_EVENTS: ("gifting", "projections"),
    SANCTIONS_EVENTS: ("gifting", "payout", "projections"),
    GIFTING_EVENTS: ("payout", "projections"),
    PAYOUT_EVENTS: ("projections",),
    ACCOUNTS_EVENTS: ("gifting",),
    MODERATION_COMMANDS: ("recharge",),
    DEAD_LETTER: ("projections",),
}
SERVICE_PRINCIPALS = ("recharge", "gifting", "payout", "projections")
OUTSIDE_PUBLISHERS = ("accounts", "moderation")
