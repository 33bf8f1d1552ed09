"""Where `make reconcile` leaves its result for the ops view (dashboard#/ops): one row per run
in the projections database's `reconcile_runs` (migration 008_dashboard_panels.sql), written
with the reconciler's own read-only login, which may INSERT there and nowhere else. The ops
view shows the newest run: when, how many discrepancies, and each check's figures."""

import uuid
from typing import Protocol

import asyncpg

SHOWN = 20  # discrepancies kept per check, as the printed report shows them


class Report(Protocol):
    checks: list[tuple[str, int, list[str]]]

    @property
    def discrepancies(self) -> list[str]: ...


def checks_of(report: Report) -> list[dict]:
    """Each check's name, rows examined, discrepancies found and the first SHOWN of them."""
    return [
        {"name": name, "examined": examined, "found": len(found), "first": found[:SHOWN]}
        for name, examined, found in report.checks
    ]


async def record(conn: asyncpg.Connection, report: Report) -> uuid.UUID:
    """Stores the run (`conn`: the auditor's connection to the projections database, with
    eventkit.db.init_connection's jsonb codec)."""
    run = uuid.uuid4()
    await conn.execute(
        "INSERT INTO reconcile_runs (run_id, finished_at, discrepancies, checks)"
        " VALUES ($1, now(), $2, $3)",
        run,
        len(report.discrepancies),
        checks_of(report),
    )
    return run
