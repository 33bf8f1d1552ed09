"""Payout-only settings (environment `PAYOUT_*`): the provider callback secret and address."""

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    def sandbox_callback_url(self) -> str:
        if self.callback_url:
            return self.callback_url
        host = os.environ.get("HOST", "127.0.0.1")
        host = "127.0.0.1" if host == "0.0.0.0" else host
        return f"http://{host}:{os.environ.get('PAYOUT_PORT', '8003')}/v1/callbacks/sandbox"
