"""The typed refusals of partner platforms (problem+json; the OAuth token endpoint answers in
RFC 6749's own format instead, partners_oauth.OAuthError)."""

from eventkit.problems import DomainError


class PartnerTokenInvalid(DomainError):
    status, code, title = 401, "partner-token-invalid", "Missing or invalid partner access token"
    headers = {"WWW-Authenticate": "Bearer"}


class PartnerTokenExpired(PartnerTokenInvalid):
    code, title = "partner-token-expired", "The partner access token has expired"


class PartnerSecretRotated(PartnerTokenInvalid):
    code, title = (
        "partner-secret-rotated",
        "The token was issued under a client secret that has since been rotated",
    )


class ScopeNotGranted(DomainError):
    status, code, title = (
        403,
        "partner-scope-missing",
        "The access token or the user's consent does not grant this scope",
    )


class ConsentRequired(DomainError):
    status, code, title = (
        403,
        "consent-required",
        "No consent of this user to this partner matches the consent token",
    )


class ConsentRevoked(DomainError):
    status, code, title = 403, "consent-revoked", "The user has revoked this consent"


class ConsentLimitReached(DomainError):
    status, code, title = (
        403,
        "consent-limit",
        "The debit would pass the most coins the user's consent allows",
    )


class PartnerLimitReached(DomainError):
    status, code, title = (
        403,
        "partner-limit-daily",
        "The partner's daily coin limit would be passed (it resets at 00:00 UTC)",
    )


class PartnerNotFound(DomainError):
    status, code, title = 404, "partner-not-found", "No such partner"


class ConsentNotFound(DomainError):
    status, code, title = 404, "consent-not-found", "No such consent of yours"


class PartnerExists(DomainError):
    status, code, title = 409, "partner-exists", "A partner with this id is already registered"


class SecretVersionChanged(DomainError):
    status, code, title = (
        409,
        "secret-version-changed",
        "The client's secret version is not the one named (rotated by someone else?)",
    )


class ScopeNotAllowed(DomainError):
    status, code, title = (
        403,
        "partner-scope-not-allowed",
        "The partner's client may not be granted this scope",
    )
