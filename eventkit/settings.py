"""The settings every process reads from the environment (and .env) when it starts: where Kafka
and PostgreSQL are, the prefixes, the token keys, and where each service listens. A service with settings of its own subclasses this class
(RechargeSettings, PayoutSettings: environment `<SERVICE>_*`), so a process's whole
configuration is one object, validated when it starts."""

from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventkit import local

# The services, each with its own database, in the order they are prepared.
SERVICES = ("recharge", "gifting", "payout", "projections")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `production`: every secret comes from the environment and must be strong (eventkit.secrets)
    env: Literal["development", "production"] = Field(
        default="development", validation_alias="COINSTREAM_ENV"
    )
    secrets_dir: Path = Field(
        default=local.SECRETS_DIR, description="Development secrets and keys (infra/secrets.py)"
    )

    # The public keys that verify signed events (eventkit/signing.py, docs/event-signing.md):
    # unset, the development keyring `python -m infra secrets` writes under secrets_dir.
    event_keyring: Path | None = Field(
        default=None, description="JSON keyring of the event signers' public keys (EVENT_KEYRING)"
    )

    kafka_bootstrap_servers: str = local.KAFKA_BOOTSTRAP
    # Every Kafka client authenticates (SCRAM-SHA-512, password `<principal>_kafka_password`);
    # SASL_SSL (the broker's TLS listener, eventkit.kafka) for traffic between machines.
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = "SASL_PLAINTEXT"
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the broker's certificate (SASL_SSL)"
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replicas of each topic create_topics makes (cluster: 3)"
    )
    database_url: str = Field(
        default=local.DATABASE_URL,
        description="Server URL; each service uses its own database on it (see database_for)",
    )
    db_prefix: str = Field(default="coinstream", pattern=r"^[a-z][a-z0-9_]*$")
    topic_prefix: str = Field(default="", description="Prepended to every topic (tests use it)")

    # User tokens are verified against the identity provider's public keys (eventkit/auth.py):
    # a JWKS document over https, or a file:// one; unset, the development JWKS that
    # `python -m infra secrets` writes as secrets_dir/jwks.json. Production must set it.
    jwt_jwks_url: str | None = Field(default=None, description="The JWKS (JWT_JWKS_URL)")
    jwt_jwks_lifespan_seconds: float = Field(
        default=300, gt=0, description="Longest a removed key keeps verifying (JWKS cache)"
    )
    jwt_jwks_cooldown_seconds: float = Field(
        default=30, ge=0, description="Least time between refreshes forced by an unknown kid"
    )
    jwt_audience: str = "coinstream"
    jwt_issuer: str = "coinstream-dev"
    max_body_bytes: int = 64 * 1024

    log_level: str = "INFO"
    # OpenTelemetry traces are exported over OTLP/HTTP to this base URL (the standard variable;
    # `/v1/traces` is appended), and are off when it is unset (eventkit.tracing).
    otel_exporter_otlp_endpoint: str | None = None
    host: str = Field(default="127.0.0.1", description="Where the HTTP servers listen")
    # The one list of ports: `<SERVICE>_PORT` is where that service's HTTP API listens.
    recharge_port: int = Field(default=8001, ge=1, le=65535)
    gifting_port: int = Field(default=8002, ge=1, le=65535)
    payout_port: int = Field(default=8003, ge=1, le=65535)
    projections_port: int = Field(default=8004, ge=1, le=65535, description="The read API")
    projections_metrics_port: int = Field(
        default=8005, ge=1, le=65535, description="The projections worker's /metrics"
    )
    # Where each process without an HTTP API serves /metrics (an API serves it on its own port).
    recharge_relay_metrics_port: int = Field(default=9101, ge=1, le=65535)
    recharge_consumer_metrics_port: int = Field(default=9102, ge=1, le=65535)
    recharge_worker_metrics_port: int = Field(default=9103, ge=1, le=65535)
    gifting_relay_metrics_port: int = Field(default=9111, ge=1, le=65535)
    gifting_consumer_metrics_port: int = Field(default=9112, ge=1, le=65535)
    gifting_worker_metrics_port: int = Field(default=9113, ge=1, le=65535)
    payout_relay_metrics_port: int = Field(default=9121, ge=1, le=65535)
    payout_consumer_metrics_port: int = Field(default=9122, ge=1, le=65535)
    payout_worker_metrics_port: int = Field(default=9123, ge=1, le=65535)
    projections_relay_metrics_port: int = Field(default=9131, ge=1, le=65535)
    projections_consumer_metrics_port: int = Field(default=9132, ge=1, le=65535)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @model_validator(mode="after")
    def _no_weak_secret_in_production(self) -> "Settings":
        # Every `*_secret` field of a process's settings (RECHARGE_WEBHOOK_SECRET,
        # PAYOUT_CALLBACK_SECRET, ...): in production its dev default or a short value stops
        # the process as it reads its settings, naming the variable (eventkit.secrets.strong).
        if self.production:
            from eventkit.secrets import strong  # eventkit.secrets imports this module

            for name, field in type(self).model_fields.items():
                if name.endswith("_secret"):
                    alias = field.validation_alias
                    strong(alias if isinstance(alias, str) else name.upper(), getattr(self, name))
        return self

    def database_for(self, service: str, login: str | None = None) -> str:
        """The DSN of `service`'s own database as the PostgreSQL login role `<db_prefix>_<login>`
        (default: the service's own; `projections_reader`: the read API's; `auditor`: the
        read-only reconciler), with the secret `<login>_database_password` (eventkit.roles).
        Only the server's address comes from database_url: its credentials are the admin's,
        for migrations and ops tools alone (admin_database_for)."""
        from eventkit.secrets import secret  # eventkit.secrets imports this module

        login = login or service
        user = f"{self.db_prefix}_{login}"
        password = quote(secret(self, f"{login}_database_password"), safe="")
        parts = urlsplit(self.database_url)
        server = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit(
            parts._replace(
                netloc=f"{user}:{password}@{server}", path=f"/{self.db_prefix}_{service}"
            )
        )

    def admin_database_for(self, service: str) -> str:
        """`service`'s database as database_url's role (the cluster admin): migrations, role
        set-up and ops tools only, never a service process."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path=f"/{self.db_prefix}_{service}"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def port_for(self, service: str) -> int:
        """Where `service`'s HTTP API listens (`<SERVICE>_PORT`)."""
        return int(getattr(self, f"{service}_port"))

    def metrics_port_for(self, service: str, role: str) -> int:
        """Where the `role` process of `service` serves /metrics: an API on its own port, the
        projections worker on projections_metrics_port, any other on `<SERVICE>_<ROLE>_METRICS_PORT`."""
        if role == "api":
            return self.port_for(service)
        if service == "projections" and role == "worker":
            return self.projections_metrics_port
        return int(getattr(self, f"{service}_{role}_metrics_port"))

    @property
    def reachable_host(self) -> str:
        """An address a client on this machine can reach `host` at (a wildcard is not one)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    def url_for(self, service: str) -> str:
        return f"http://{self.reachable_host}:{self.port_for(service)}"


S = TypeVar("S", bound=Settings)


def narrowed(settings: Settings, cls: type[S]) -> S:
    """`settings` when it already is a `cls` (a service process's own), else `cls` read from
    the environment (an app built in a test from the shared settings alone)."""
    return settings if isinstance(settings, cls) else cls()
