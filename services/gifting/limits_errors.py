"""The refusals of spending controls: one problem type per rule, each naming the rule and,
where it has one, when it resets (`resets_at`, ISO 8601 UTC). 403: the request is valid and the
account may not spend this now; a retry after `resets_at` may pass."""

from datetime import datetime

from eventkit.problems import DomainError


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


class LimitReached(DomainError):
    """A limit the user set themselves, over a calendar window (UTC)."""

    status = 403

    def __init__(self, limit: int, spent: int, coins: int, resets_at: datetime):
        period = self.code.removeprefix("spending-limit-")
        super().__init__(
            f"{coins} coins would take this {period}'s spending to {spent + coins},"
            f" over your {period} limit of {limit}",
            rule=self.code.removeprefix("spending-"),
            limit=limit,
            spent=spent,
            resets_at=iso(resets_at),
        )


class DailyLimitReached(LimitReached):
    code, title = "spending-limit-daily", "Your daily spending limit would be exceeded"


class WeeklyLimitReached(LimitReached):
    code, title = "spending-limit-weekly", "Your weekly spending limit would be exceeded"


class MonthlyLimitReached(LimitReached):
    code, title = "spending-limit-monthly", "Your monthly spending limit would be exceeded"


class SelfExcluded(DomainError):
    status, code, title = 403, "self-excluded", "You have excluded yourself from spending"

    def __init__(self, until: datetime):
        super().__init__(
            f"no spending until {iso(until)}", rule="self-exclusion", resets_at=iso(until)
        )


class AgeBandForbidden(DomainError):
    status, code, title = (
        403,
        "age-band-forbidden",
        "The law of your country forbids this spend at your age",
    )

    def __init__(self, rule: str, kind: str):
        super().__init__(f"{kind} is not allowed in age band {rule}", rule=rule, resets_at=None)


class AgeBandTransactionCap(DomainError):
    status, code, title = (
        403,
        "age-band-transaction-cap",
        "Over the most one spend may be at your age in your country",
    )

    def __init__(self, rule: str, cap: int, coins: int):
        super().__init__(
            f"{coins} coins is over the {cap}-coin cap per spend of age band {rule}",
            rule=rule,
            limit=cap,
            resets_at=None,
        )


class AgeBandMonthlyCap(DomainError):
    status, code, title = (
        403,
        "age-band-monthly-cap",
        "Over the most you may spend in a month at your age in your country",
    )

    def __init__(self, rule: str, cap: int, spent: int, coins: int, resets_at: datetime):
        super().__init__(
            f"{coins} coins would take this month's spending to {spent + coins},"
            f" over the monthly cap of {cap} of age band {rule}",
            rule=rule,
            limit=cap,
            spent=spent,
            resets_at=iso(resets_at),
        )


REFUSALS: tuple[type[DomainError], ...] = (
    SelfExcluded,
    AgeBandForbidden,
    AgeBandTransactionCap,
    AgeBandMonthlyCap,
    DailyLimitReached,
    WeeklyLimitReached,
    MonthlyLimitReached,
)
