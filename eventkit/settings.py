"""One settings class, read from the environment (and .env) when a process starts."""

from urllib.parse import urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventkit import local


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str = local.KAFKA_BOOTSTRAP
    database_url: str = Field(
        default=local.DATABASE_URL,
        description="Server URL; each service uses its own database on it (see database_for)",
    )
    db_prefix: str = Field(default="coinstream", pattern=r"^[a-z][a-z0-9_]*$")
    topic_prefix: str = Field(default="", description="Prepended to every topic (tests use it)")

    jwt_secret: str = Field(default="dev-only-change-me-0123456789abcdef", min_length=32)
    jwt_audience: str = "coinstream"
    jwt_issuer: str = "coinstream-dev"
    max_body_bytes: int = 64 * 1024

    def database_for(self, service: str) -> str:
        """The DSN of `service`'s own database on the configured server."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path=f"/{self.db_prefix}_{service}"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
