"""`python -m infra run|up|down|status|prepare|addresses`.

run        up, print the addresses, then run every Procfile role under infra.supervisor (a role
           that dies is restarted; Ctrl-C stops them all)
up         start PostgreSQL and Kafka natively (unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS
           point elsewhere), then prepare
secrets    generate the development secrets and keys that are missing (infra/secrets.py)
prepare    create the databases, apply migrations and create the topics on whatever is configured
down       stop the native servers (data is kept under .cache/, or where `status` says)
forget     down, then delete a PostgreSQL cluster kept outside .cache/ (`make clean`)
addresses  where each service, Kafka and PostgreSQL listen, from the settings the processes read
"""

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from eventkit.settings import SERVICES, Settings
from infra import kafka, paths, postgres, secrets

__all__ = ["SERVICES", "ROOT", "main"]
ROOT = Path(__file__).resolve().parent.parent


def start_native() -> None:
    make_secrets()
    if not os.environ.get("DATABASE_URL"):
        postgres.start()
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        kafka.start()


def make_secrets() -> None:
    made = secrets.ensure(Settings())
    if made:
        print(f"secrets: generated {', '.join(made)} in {Settings().secrets_dir}", flush=True)


async def prepare() -> None:
    from eventkit.db import migrate
    from eventkit.kafka import create_topics

    make_secrets()  # outside production, whatever is missing (a fresh cache dir)
    settings = Settings()
    for service in SERVICES:
        applied = await migrate(settings, service, ROOT / "services" / service / "migrations")
        if applied:
            print(f"{service}: applied {', '.join(applied)}")
    created = await create_topics(settings)
    if created:
        print(f"kafka: created topics {', '.join(created)}")
    from infra import kafka_access

    await asyncio.to_thread(kafka_access.provision, settings)  # SCRAM users and the ACLs


def addresses() -> list[str]:
    """The addresses `make run`'s processes use: the settings they read (eventkit.settings)."""
    settings = Settings()
    host = settings.reachable_host
    http = {service: settings.url_for(service) for service in SERVICES}
    return [
        f"recharge    {http['recharge']}/docs",
        f"gifting     {http['gifting']}/docs",
        f"payout      {http['payout']}/docs",
        f"projections faust worker -> PostgreSQL database {settings.db_prefix}_projections, "
        f"metrics http://{host}:{settings.projections_metrics_port}/metrics",
        f"read API    {http['projections']}/docs, dashboard {http['projections']}/dashboard",
        f"kafka       {settings.kafka_bootstrap_servers}",
        f"postgres    {shown_url(settings.database_url)}",
    ]


def shown_url(url: str) -> str:
    """A database URL fit for the console: the native cluster's documented dev password is
    shown (so it can be pasted into psql), any other password is not."""
    parts = urlsplit(url)
    if parts.password is None or parts.password == paths.POSTGRES_PASSWORD:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def dashboard_assets() -> None:
    """The read API's dashboard serves Apache ECharts from the locked npm package: install it
    (npm ci, once per lock). Without npm the rest of the system runs; the page says how."""
    from infra import node

    try:
        node.dashboard_assets()
    except (OSError, SystemExit, subprocess.CalledProcessError) as exc:
        print(f"dashboard: charting library not installed ({exc}); python -m infra.node install")


def run() -> int:
    from infra.supervisor import Supervisor, read_procfile

    start_native()
    asyncio.run(prepare())
    dashboard_assets()
    print("\n".join(addresses()), flush=True)
    # The Procfile says `python`: this interpreter's (the venv's), however `run` was started.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return Supervisor(read_procfile(ROOT / "Procfile"), ROOT, env).run()


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "run":
        sys.exit(run())
    elif command == "addresses":
        print("\n".join(addresses()))
    elif command == "up":
        start_native()
        asyncio.run(prepare())
    elif command == "secrets":
        make_secrets()
    elif command == "prepare":
        asyncio.run(prepare())
    elif command == "down":
        kafka.stop()
        postgres.stop()
    elif command == "forget":
        kafka.stop()
        postgres.forget()
    elif command == "status":
        print(postgres.status())
        print(kafka.status())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
