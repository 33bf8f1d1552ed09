"""`make reconcile` leaves its result where the ops view reads it (scripts/reconcile_record.py):
one row of reconcile_runs per run, written with the auditor's login, which may INSERT there and
nowhere else; the read API's login may read it and not write it."""

import asyncpg
import pytest

from eventkit.roles import AUDITOR, READER
from scripts.reconcile import reconcile


async def test_each_run_is_recorded_for_the_ops_view_through_a_narrow_grant(namespace):
    settings = await namespace("recrec")
    report = await reconcile(settings)
    auditor = await asyncpg.connect(settings.database_for("projections", AUDITOR))
    reader = await asyncpg.connect(settings.database_for("projections", READER))
    try:
        rows = await reader.fetch("SELECT * FROM analytics.reconcile_runs")
        assert len(rows) == 1
        assert rows[0]["discrepancies"] == len(report.discrepancies)
        assert rows[0]["ok"] == (not report.discrepancies)
        assert '"every published event projected"' in rows[0]["checks"]
        await reconcile(settings)
        assert await reader.fetchval("SELECT count(*) FROM reconcile_runs") == 2

        for sql in (
            "INSERT INTO creator_earnings (creator_id) VALUES ('forged')",
            "UPDATE reconcile_runs SET discrepancies = 0",
            "DELETE FROM reconcile_runs",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await auditor.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute(
                "INSERT INTO reconcile_runs VALUES (gen_random_uuid(), now(), 0, '[]')"
            )
    finally:
        await auditor.close()
        await reader.close()
