from eventkit.problems import DomainError


class InsufficientCoins(DomainError):
    status, code, title = 409, "insufficient-coins", "The wallet does not hold enough coins"


class GiftNotFound(DomainError):
    status, code, title = 404, "gift-not-found", "No such gift in the catalog"


class SelfGift(DomainError):
    status, code, title = 422, "self-gift", "A user cannot send a gift to themselves"


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not send gifts"
