from eventkit.problems import DomainError


class BundleNotFound(DomainError):
    status, code, title = 404, "bundle-not-found", "No such coin bundle"


class NotEligible(DomainError):
    status, code, title = 403, "not-eligible", "This account may not buy coins"


class PaymentDeclined(DomainError):
    status, code, title = 402, "payment-declined", "The payment provider declined the charge"
