"""A payout process's settings: the shared ones (eventkit.settings) and payout's own
(environment `PAYOUT_*`): the provider callback secret and address. One object, validated when
the process starts."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eventkit.settings import Settings


class PayoutSettings(Settings):
    # Each own field names its variable (the shared fields keep theirs, without the prefix);
    # keyword arguments use the field names.
    model_config = SettingsConfigDict(populate_by_name=True)

    callback_secret: str = Field(
        default="dev-only-sandbox-callback-secret-0123456789",
        min_length=32,
        description="HMAC-SHA256 key the sandbox signs with",
        validation_alias="PAYOUT_CALLBACK_SECRET",
    )
    callback_url: str | None = Field(
        default=None,
        description="Where the sandbox posts; default: this host's payout API",
        validation_alias="PAYOUT_CALLBACK_URL",
    )

    def sandbox_callback_url(self) -> str:
        return self.callback_url or f"{self.url_for('payout')}/v1/callbacks/sandbox"
