from eventkit.problems import DomainError


class InsufficientDiamonds(DomainError):
    status, code, title = 409, "insufficient-diamonds", "Not enough available diamonds"


class BelowMinimum(DomainError):
    status, code, title = 422, "below-minimum", "Payout is below the minimum threshold"


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not withdraw"
