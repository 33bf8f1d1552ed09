"""`python -m services.projections worker|migrate`."""

import asyncio
import sys
from pathlib import Path

from eventkit.db import migrate
from eventkit.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else "worker"
    settings = Settings()
    asyncio.run(migrate(settings.database_for("projections"), MIGRATIONS))
    if role == "migrate":
        print("projections: migrations applied")
        return
    if role != "worker":
        sys.exit(f"unknown role {role!r}; use worker or migrate")
    from faust import Worker

    from services.projections.worker import create_app

    app = create_app(settings)
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
