"""`python -m scripts.make_env`: every secret a docker-compose deployment needs, generated, so
nobody types one. Writes

- `DIR` (default `.cache/compose`, mode 0700): each secret as a file (kept when present, so a
  second run changes nothing and keeps the running stack's passwords), and the public documents
  the stack mounts: `jwks.json` (the token-verifying keys) and `event_keyring.json` (the event
  signers' public keys), and whatever else `python -m infra secrets` makes;
- `DIR/public/`: the public documents alone (jwks.json, event_keyring.json, kafka_ca.pem),
  the one folder every container mounts, so no container sees another one's secrets;
- `DIR/kafka/server.properties`: the broker's configuration for the compose network (advertised
  as `kafka`, its TLS certificate valid for that name), mounted by the kafka container only;
- `.env` (mode 0600, git-ignored), from DIR: `NAME=value` for each secret a process reads
  (the environment-variable spelling eventkit.secrets uses), the `*_secret` settings
  (RECHARGE_WEBHOOK_SECRET, PAYOUT_CALLBACK_SECRET) and POSTGRES_PASSWORD, the admin password
  of the compose PostgreSQL. docker compose reads it to fill in each service's own variables.

Not in `.env`: `jwt_signing_key`, the private key that mints user tokens. In production the
identity provider holds it; for a compose stack it stays in DIR, and
`SECRETS_DIR=.cache/compose python -m eventkit.auth fan-1` mints a token that stack accepts.
"""

import argparse
import base64
import os
import re
import shutil
import uuid
from pathlib import Path

from eventkit.auth import SIGNING_KEY
from eventkit.secrets import env_name
from eventkit.settings import Settings
from infra import kafka_access
from infra import secrets as generate
from infra.kafka import cluster_nodes, cluster_overrides, render_config
from infra.kafka_access import CA_FILE
from schemas.topics import OUTSIDE_PUBLISHERS, SERVICE_PRINCIPALS
from services.payout.settings import PayoutSettings
from services.recharge.settings import RechargeSettings

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "postgres_password"  # POSTGRES_PASSWORD: the official image's variable
NOT_FOR_SERVICES = frozenset({SIGNING_KEY})  # the identity provider's, never a service's


def setting_secrets() -> list[str]:
    """The file names of the `*_secret` settings (RECHARGE_WEBHOOK_SECRET -> its lower case)."""
    names = []
    for cls in (RechargeSettings, PayoutSettings):
        for name, field in cls.model_fields.items():
            if name.endswith("_secret"):
                alias = field.validation_alias
                names.append((alias if isinstance(alias, str) else name).lower())
    return names


def kafka_passwords() -> list[str]:
    """Every Kafka principal's SCRAM password (admin: the broker's super user)."""
    return [f"{p}_kafka_password" for p in (*SERVICE_PRINCIPALS, *OUTSIDE_PUBLISHERS, "admin")]


def generate_all(directory: Path) -> list[str]:
    """Whatever secret or document is missing under `directory`; the names it made."""
    # Development: the generator reads back the files it wrote, whatever COINSTREAM_ENV says.
    settings = Settings(secrets_dir=directory).model_copy(update={"env": "development"})
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    made = [CA_FILE] if kafka_access.ensure_tls(directory, hosts=COMPOSE_TLS_HOSTS) else []
    made += generate.ensure(settings)
    # Also here, not only in ensure, so that .env is complete whatever the dev set-up makes.
    for name in [*kafka_passwords(), *setting_secrets(), ADMIN_PASSWORD]:
        if generate.password(settings, name):
            made.append(name)
    return made


# Inside the compose network clients reach the broker as `kafka`; from the host, as localhost.
COMPOSE_TLS_HOSTS = ("kafka", "kafka-2", "kafka-3", "localhost", "127.0.0.1")
# docker-compose.cluster.yml's three Kafka nodes (node 1 keeps the one-node stack's name).
CLUSTER_NODES = ("kafka", "kafka-2", "kafka-3")
PUBLIC = ("jwks.json", "event_keyring.json", CA_FILE)


def compose_files(directory: Path) -> None:
    """The public folder and the broker's configuration the compose file mounts."""
    public = directory / "public"
    public.mkdir(exist_ok=True)
    for name in PUBLIC:
        shutil.copyfile(directory / name, public / name)
    (directory / "kafka").mkdir(exist_ok=True, mode=0o700)
    settings = Settings(secrets_dir=directory).model_copy(update={"env": "development"})
    config = render_config(
        settings,
        port=9092,
        controller_port=9093,
        tls_port=9094,
        bind="0.0.0.0",
        tls_bind="0.0.0.0",
        advertised="kafka",
        tls_advertised="kafka",
        data=Path("/var/lib/kafka/data"),
    )
    write_private(directory / "kafka" / "server.properties", config)
    cluster_files(directory, settings)


def cluster_files(directory: Path, settings: Settings) -> None:
    """docker-compose.cluster.yml's nodes: `kafka-cluster/node<n>/server.properties` (the
    native cluster's overrides, the quorum on the compose hosts) and one shared cluster id
    (kept, as the nodes' storage is formatted with it once)."""
    home = directory / "kafka-cluster"
    home.mkdir(exist_ok=True, mode=0o700)
    id_file = home / "cluster-id"
    if not id_file.exists():
        id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    nodes = cluster_nodes(home, 9092)
    voters = ",".join(
        f"{n.node_id}@{host}:9093" for n, host in zip(nodes, CLUSTER_NODES, strict=True)
    )
    for node, host in zip(nodes, CLUSTER_NODES, strict=True):
        node.home.mkdir(exist_ok=True, mode=0o700)
        config = render_config(
            settings,
            port=9092,
            controller_port=9093,
            tls_port=9094,
            bind="0.0.0.0",
            tls_bind="0.0.0.0",
            advertised=host,
            tls_advertised=host,
            data=Path("/var/lib/kafka/data"),
        ) + re.sub(
            r"controller\.quorum\.voters=.*",
            f"controller.quorum.voters={voters}",
            cluster_overrides(node, nodes),
        )
        write_private(node.home / "server.properties", config)
        shutil.copyfile(id_file, node.home / "cluster-id")


def env_lines(directory: Path) -> list[str]:
    """`NAME=value` for each secret file in `directory` (a flat name, no suffix: documents
    such as jwks.json have one) that a service may hold."""
    lines = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.suffix and path.name not in NOT_FOR_SERVICES:
            value = path.read_text().strip()
            if "\n" in value or not value:
                raise SystemExit(f"{path}: a secret for .env must be one non-empty line")
            lines.append(f"{env_name(path.name)}={value}")
    return lines


def write_private(path: Path, text: str) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    draft.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.make_env", description=__doc__)
    parser.add_argument("--dir", type=Path, default=ROOT / ".cache" / "compose")
    parser.add_argument("--env", type=Path, default=ROOT / ".env")
    args = parser.parse_args(argv)
    made = generate_all(args.dir)
    compose_files(args.dir)
    lines = env_lines(args.dir)
    header = (
        "# Generated by `python -m scripts.make_env` from the files under "
        f"{args.dir}: do not edit, do not commit.\n"
    )
    write_private(args.env, header + "\n".join(lines) + "\n")
    print(f"generated {', '.join(made) or 'nothing new'} in {args.dir}")
    print(f"wrote {len(lines)} secrets to {args.env}: {', '.join(n.split('=')[0] for n in lines)}")


if __name__ == "__main__":
    main()
