"""The refusals of promo codes and coupons, one problem type per reason. Nothing is recorded
for any of them (the transaction rolls back, its Idempotency-Key with it)."""

from eventkit.problems import DomainError


class CodeNotFound(DomainError):
    status, code, title = 404, "promo-code-not-found", "No such promo code or coupon"


class CodeWrongKind(DomainError):
    """A coupon given with a purchase, or a purchase code given to the coupon route."""

    status, code, title = 409, "promo-code-wrong-kind", "This code is not redeemed this way"


class CodeNotYetValid(DomainError):
    status, code, title = 409, "promo-code-not-yet-valid", "This code's campaign has not started"


class CodeExpired(DomainError):
    status, code, title = 409, "promo-code-expired", "This code's campaign has ended"


class CodeWrongCountry(DomainError):
    status, code, title = 403, "promo-code-wrong-country", "This code is not valid in your country"


class CodeExhausted(DomainError):
    status, code, title = (
        409,
        "promo-code-exhausted",
        "The campaign has given all the redemptions it may",
    )


class PerUserLimit(DomainError):
    status, code, title = (
        409,
        "promo-code-per-user-limit",
        "You have already redeemed this campaign as often as it allows",
    )


class CodeAlreadyUsed(DomainError):
    """A single-use code someone (anyone) has redeemed, or holds with a pending purchase."""

    status, code, title = 409, "promo-code-used", "This single-use code has already been used"


class DiscountTooLarge(DomainError):
    status, code, title = (
        409,
        "promo-discount-too-large",
        "The discount would leave nothing to pay",
    )


class CampaignNotFound(DomainError):
    status, code, title = 404, "campaign-not-found", "No such campaign"


class SharedCodeTaken(DomainError):
    status, code, title = 409, "promo-code-taken", "Another campaign already has this code"


REDEEM_REFUSALS: tuple[type[DomainError], ...] = (
    CodeNotFound,
    CodeWrongKind,
    CodeNotYetValid,
    CodeExpired,
    CodeWrongCountry,
    CodeExhausted,
    PerUserLimit,
    CodeAlreadyUsed,
)
