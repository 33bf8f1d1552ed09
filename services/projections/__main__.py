"""`python -m services.projections worker|api|rebuild [model ...]|migrate`.

worker   the faust-streaming worker (metrics on PROJECTIONS_METRICS_PORT, default 8005)
api      the read API (PROJECTIONS_PORT, default 8004)
rebuild  rebuild the named read models (default: all) from the topics, live worker running
migrate  create the database and apply migrations
"""

import argparse
import asyncio
from pathlib import Path

from eventkit import tracing
from eventkit.db import migrate, wait_for_schema
from eventkit.roles import READER
from eventkit.secrets import startup_check
from eventkit.service import configure_logging, serve
from eventkit.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def main() -> None:
    from services.projections.read_models import READ_MODELS

    parser = argparse.ArgumentParser(
        prog="python -m services.projections",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "role", nargs="?", default="worker", choices=["worker", "api", "rebuild", "migrate"]
    )
    parser.add_argument("models", nargs="*", help=f"for rebuild: any of {sorted(READ_MODELS)}")
    settings = Settings()
    parser.add_argument("--port", type=int, default=settings.projections_port)
    args = parser.parse_args()
    configure_logging(settings, f"projections-{args.role}")
    startup_check(settings, "projections", args.role)  # production: every secret is set
    tracing.configure(settings, f"projections-{args.role}")  # with OTEL_EXPORTER_OTLP_ENDPOINT
    if args.role in ("migrate", "rebuild"):  # ops: the admin's credentials, as the owner
        asyncio.run(migrate(settings, "projections", MIGRATIONS))
    else:  # the login roles run no DDL: wait for `prepare` to have applied the migrations
        login = READER if args.role == "api" else None
        asyncio.run(wait_for_schema(settings.database_for("projections", login), MIGRATIONS))
    if args.role == "migrate":
        print("projections: migrations applied")
    elif args.role == "rebuild":
        from services.projections.rebuild import rebuild

        report = asyncio.run(rebuild(settings, args.models or None))
        print(
            f"rebuilt {', '.join(report.models)} from {report.messages} messages"
            f" ({report.events} events) in {report.seconds:.1f}s"
            f" = {report.rate:,.0f} messages/s"
        )
        for table, rows in report.rows.items():
            print(f"  {table}: {rows} rows")
        print("(up to where the live worker had got; it projects the rest as usual)")
    elif args.role == "api":
        from services.projections.api import create

        serve(create(settings), settings, args.port)
    else:
        import mode.loop
        from faust import Worker

        from services.projections.worker import create_app

        mode.loop.use("uvloop")  # before the worker makes its loop

        app = create_app(settings)
        Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
