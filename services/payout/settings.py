"""Payout-only settings (environment `PAYOUT_*`): the provider callback secret and address."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventkit.settings import Settings


class PayoutSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUT_", env_file=".env", extra="ignore")

    callback_secret: str = Field(
        default="dev-only-sandbox-callback-secret-0123456789",
        min_length=32,
        description="HMAC-SHA256 key the sandbox signs with",
    )
    callback_url: str | None = Field(
        default=None, description="Where the sandbox posts; default: this host's payout API"
    )

    def sandbox_callback_url(self, settings: Settings) -> str:
        return self.callback_url or f"{settings.url_for('payout')}/v1/callbacks/sandbox"
