"""Comparing two stores key by key: shared by scripts/reconcile.py and each feature's
reconcile_<part>.py (which reconcile.py imports, so they cannot import it back)."""

import asyncpg


async def keyed(conn: asyncpg.Connection, sql: str, *args) -> dict:
    """{first column: the other columns as a tuple}, to compare two stores key by key."""
    return {r[0]: tuple(r[1:]) for r in await conn.fetch(sql, *args)}


def disagreements(
    what: str, figures: str, a_name: str, a: dict, b_name: str, b: dict, zero=None
) -> list[str]:
    """One line per key whose figures differ between a and b (a missing key counts as zero)."""
    return [
        f"{what} {k}: {a_name} says {figures} = {a.get(k)}, {b_name} says {b.get(k)}"
        for k in sorted(a.keys() | b.keys(), key=str)
        if a.get(k, zero) != b.get(k, zero)
    ]
