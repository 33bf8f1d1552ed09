from eventkit.problems import DomainError


class InsufficientCoins(DomainError):
    status, code, title = 409, "insufficient-coins", "The wallet does not hold enough coins"


class GiftNotFound(DomainError):
    status, code, title = 404, "gift-not-found", "No such gift in the catalog for your region"


class ItemNotFound(DomainError):
    status, code, title = 404, "item-not-found", "No such unlockable item"


class ItemExists(DomainError):
    status, code, title = 409, "item-exists", "An item with this id is owned by someone else"


# Self-gift and self-unlock are 403, not 422: the request is well formed and the same body from
# anyone else is accepted; the caller may not do this to themselves.
class SelfGift(DomainError):
    status, code, title = 403, "self-gift", "A user cannot send a gift to themselves"


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not send gifts or unlock"


class RecipientNotFound(DomainError):
    status, code, title = (
        404,
        "recipient-not-found",
        "No such recipient (a creator is known to gifting once it has signed in to it)",
    )


class RecipientNotEligible(DomainError):
    # A known recipient whose age, region, account type or ban forbids receiving: 403, as for a
    # sender who may not send; the request itself is valid.
    status, code, title = 403, "recipient-not-eligible", "The recipient cannot receive gifts"


class Banned(DomainError):
    status, code, title = 403, "transaction-banned", "A transaction ban blocks this action"


class SelfUnlock(DomainError):
    status, code, title = 403, "self-unlock", "A user cannot unlock their own item"


class SellerNotEligible(DomainError):
    status, code, title = (
        403,
        "seller-not-eligible",
        "This account may not list items for coins (it could not receive them)",
    )


class PriceChanged(DomainError):
    status, code, title = 409, "price-changed", "The price is no longer the one you were shown"
