"""A recharge process's settings: the shared ones (eventkit.settings) and recharge's own
(environment `RECHARGE_*`): the webhook secret, the sandbox provider's behaviour, the payment
timeout and the velocity limits. One object, validated when the process starts."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eventkit.settings import Settings
from services.recharge.limits import Limits


class RechargeSettings(Settings):
    # Each own field names its variable (the shared fields keep theirs, without the prefix);
    # keyword arguments use the field names.
    model_config = SettingsConfigDict(populate_by_name=True)

    webhook_secret: str = Field(
        validation_alias="RECHARGE_WEBHOOK_SECRET",
        default="dev-only-sandbox-webhook-secret-0123456789",
        min_length=32,
        description="HMAC-SHA256 key the payment provider signs with",
    )
    sandbox_delay_seconds: float = Field(
        validation_alias="RECHARGE_SANDBOX_DELAY_SECONDS",
        default=0.2,
        ge=0,
        description="How long the sandbox 'processes' before its webhook",
    )
    sandbox_retry_seconds: float = Field(
        validation_alias="RECHARGE_SANDBOX_RETRY_SECONDS",
        default=3.0,
        gt=0,
        description="First redelivery of an unanswered sandbox webhook",
    )
    sandbox_webhook_url: str | None = Field(
        validation_alias="RECHARGE_SANDBOX_WEBHOOK_URL",
        default=None,
        description="Where the sandbox posts; default: this service's own "
        "webhook route, called in-process",
    )
    payment_timeout_seconds: int = Field(
        validation_alias="RECHARGE_PAYMENT_TIMEOUT_SECONDS",
        default=300,
        gt=0,
        description="A payment not confirmed by then fails (timeout)",
    )
    max_purchases_per_hour: int = Field(
        default=20, ge=1, validation_alias="RECHARGE_MAX_PURCHASES_PER_HOUR"
    )
    max_spend_per_day_minor: int = Field(
        validation_alias="RECHARGE_MAX_SPEND_PER_DAY_MINOR",
        default=250_000,
        ge=1,
        description="Settlement-currency minor units per 24 hours",
    )
    worker_interval_seconds: float = Field(
        default=0.5, gt=0, validation_alias="RECHARGE_WORKER_INTERVAL_SECONDS"
    )

    @property
    def limits(self) -> Limits:
        return Limits(self.max_purchases_per_hour, self.max_spend_per_day_minor)
