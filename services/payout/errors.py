from eventkit.problems import DomainError


class InsufficientDiamonds(DomainError):
    status, code, title = 409, "insufficient-diamonds", "Not enough available diamonds"


class BelowMinimum(DomainError):
    """The minimum is money (minimum_payout_usd_minor), so the diamonds it takes depend on the
    rates in force, a versioned config no schema can fix: a conflict with the current rates
    (409), like the daily cap. The problem names `minimum_diamonds` at those rates."""

    status, code, title = 409, "below-minimum", "Payout is below the minimum threshold"


class DailyCapExceeded(DomainError):
    status, code, title = (
        409,
        "daily-cap-exceeded",
        "Payout would exceed the daily maximum (per UTC day)",
    )


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not withdraw"


class PayoutBanned(DomainError):
    status, code, title = 403, "payout-banned", "Withdrawals are blocked for this account"


class NoPayoutMethod(DomainError):
    status, code, title = 409, "no-payout-method", "No payout method on file"


class MethodMismatch(DomainError):
    status, code, title = 409, "method-mismatch", "Requested method differs from the one on file"


class UnsupportedCurrency(DomainError):
    """Outside the configured payout currencies, which the document lists as an enum."""

    status, code, title = 422, "unsupported-currency", "Payout currency not supported"


class PayoutNotFound(DomainError):
    status, code, title = 404, "payout-not-found", "No such payout"


class PayoutNotInReview(DomainError):
    status, code, title = 409, "payout-not-in-review", "Payout is not waiting for review"


class PayoutNotSettleable(DomainError):
    status, code, title = 409, "payout-not-settleable", "Payout has not been sent to a provider"


class BadSignature(DomainError):
    status, code, title = 401, "bad-signature", "Callback signature missing or invalid"
    headers = None


class BadCallback(DomainError):
    status, code, title = 422, "bad-callback", "Callback body is not a valid settlement"


class RatesChanged(DomainError):
    """The request names a rates version that is no longer current: the problem carries the
    current one (`current_rates_version`); quote again and ask again."""

    status, code, title = 409, "rates-changed", "The payout rates changed since they were shown"
