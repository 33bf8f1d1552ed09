"""The typed refusals of subscriptions (the others they share are in errors.py)."""

from eventkit.problems import DomainError


class SubscriptionNotOffered(DomainError):
    status, code, title = (
        404,
        "subscription-not-offered",
        "This creator has set no subscription price",
    )


class SubscriptionNotFound(DomainError):
    status, code, title = 404, "subscription-not-found", "No such subscription of yours"


# 403 like self-gift: the same body from anyone else is accepted.
class SelfSubscription(DomainError):
    status, code, title = (
        403,
        "self-subscription",
        "A creator cannot subscribe to themselves, nor be given a subscription to themselves,"
        " and a fan cannot gift a subscription to themselves",
    )


class AlreadySubscribed(DomainError):
    status, code, title = (
        409,
        "already-subscribed",
        "A recipient of the gift already holds a subscription to this creator",
    )


class ViewerNotEligible(DomainError):
    status, code, title = (
        403,
        "viewer-not-eligible",
        "A recipient of the gift may not hold a subscription (age, region, account type, ban)",
    )
