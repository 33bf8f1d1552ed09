from eventkit.problems import DomainError


class BundleNotFound(DomainError):
    status, code, title = 404, "bundle-not-found", "No such coin bundle in your country's catalog"


# A request the schema allows but the current catalog, the buyer's country or the settings do
# not is a conflict with that state (409), not a malformed request (422): the catalog and the
# limits change without a new OpenAPI document.


class AmountOutOfRange(DomainError):
    status, code, title = (
        409,
        "amount-out-of-range",
        "Custom coin amount outside the current catalog's range",
    )


class CurrencyMismatch(DomainError):
    status, code, title = (
        409,
        "currency-mismatch",
        "The currency given is not the one your country is charged in",
    )


class UnknownPaymentMethod(DomainError):
    """A well-formed token the provider has no payment method for (an unknown reference, like
    an unknown bundle_id)."""

    status, code, title = 404, "unknown-payment-method", "The provider does not know this method"


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not buy coins"


class Banned(DomainError):
    status, code, title = 403, "transaction-banned", "A transaction ban blocks buying coins"


class OverDailyLimit(DomainError):
    status, code, title = (
        409,
        "over-daily-limit",
        "The purchase alone exceeds the daily spending limit",
    )


class TooManyPurchases(DomainError):
    """Velocity limit: the response carries Retry-After (seconds)."""

    status, code, title = 429, "purchase-limit", "Purchase velocity limit reached; retry later"
    headers = {"Retry-After": "3000"}  # documented; each refusal sends its own

    def __init__(self, detail: str, retry_after: str):
        super().__init__(detail, retry_after_seconds=int(retry_after))
        self.headers = {"Retry-After": retry_after}


class PurchaseNotFound(DomainError):
    status, code, title = 404, "purchase-not-found", "No such purchase"


class BadSignature(DomainError):
    status, code, title = 401, "bad-signature", "Webhook signature missing or invalid"


class BadWebhook(DomainError):
    status, code, title = 422, "bad-webhook", "Webhook body is not a valid notification"


class WebhookMismatch(DomainError):
    status, code, title = (
        422,
        "webhook-mismatch",
        "Notification does not match the purchase it names",
    )


class NotYetConfirmed(DomainError):
    status, code, title = (
        409,
        "purchase-not-confirmed",
        "Reversal for a payment not yet confirmed; redeliver later",
    )


class BanNotFound(DomainError):
    status, code, title = 404, "ban-not-found", "No such ban"


class RechargeMonthlyCap(DomainError):
    """The age band's cap on buying coins per calendar month (UTC), in the price list's
    currency (policy/spending.json `recharge_monthly_minor`; 0: no buying at all)."""

    status, code, title = (
        403,
        "age-band-recharge-monthly-cap",
        "Over the most you may spend on coins in a month at your age in your country",
    )

    def __init__(self, rule: str, cap: int, spent: int, amount: int, resets_at):
        super().__init__(
            f"{amount} minor units would take this month's purchases to {spent + amount},"
            f" over the monthly recharge cap of {cap} of age band {rule}",
            rule=rule,
            limit=cap,
            spent=spent,
            resets_at=resets_at.isoformat(),
        )
