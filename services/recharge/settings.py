"""Recharge-only settings (environment `RECHARGE_*`): the webhook secret, the sandbox provider's
behaviour, the payment timeout and the velocity limits."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.recharge.limits import Limits


class RechargeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECHARGE_", env_file=".env", extra="ignore")

    webhook_secret: str = Field(
        default="dev-only-sandbox-webhook-secret-0123456789",
        min_length=32,
        description="HMAC-SHA256 key the payment provider signs with",
    )
    sandbox_delay_seconds: float = Field(
        default=0.2, ge=0, description="How long the sandbox 'processes' before its webhook"
    )
    sandbox_retry_seconds: float = Field(
        default=3.0, gt=0, description="First redelivery of an unanswered sandbox webhook"
    )
    sandbox_webhook_url: str | None = Field(
        default=None,
        description="Where the sandbox posts; default: this service's own "
        "webhook route, called in-process",
    )
    payment_timeout_seconds: int = Field(
        default=300, gt=0, description="A payment not confirmed by then fails (timeout)"
    )
    max_purchases_per_hour: int = Field(default=20, ge=1)
    max_spend_per_day_minor: int = Field(
        default=250_000, ge=1, description="Settlement-currency minor units per 24 hours"
    )
    worker_interval_seconds: float = Field(default=0.5, gt=0)

    @property
    def limits(self) -> Limits:
        return Limits(self.max_purchases_per_hour, self.max_spend_per_day_minor)
