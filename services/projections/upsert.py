"""Batched, order-independent upserts.

A `Table` describes a read-model table: its key columns and, for every other column, how two
values for the same key merge. Every merge is commutative and associative (sum, max, min, or
"the value of the highest version"), so folding events in any order or batching gives the same
row; that is what lets a rebuild from the topics equal the live table row for row.

A `Rows` collects a batch in memory (merging per key in Python with the same rules), then writes
it with ONE `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` statement; `write_together`
sends the upserts of several tables as one statement (one round trip for a whole batch).
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import asyncpg

from eventkit.db import Statement, one_round_trip

SUM, MAX, MIN, KEEP = "sum", "max", "min", "keep"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # SQL element type of the unnest array
    merge: str = SUM  # sum | max | min | keep (immutable per key) | latest:<version column>


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[Column, ...]
    columns: tuple[Column, ...]

    def rows(self) -> "Rows":
        return Rows(self)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.key + self.columns

    @cached_property
    def merges(self) -> dict[str, str]:
        return {c.name: c.merge for c in self.columns}

    @cached_property
    def blank(self) -> dict[str, object]:
        return {c.name: (0 if c.merge == SUM else None) for c in self.columns}

    @cached_property
    def versions(self) -> tuple[str, ...]:
        return tuple(
            {c.merge.removeprefix("latest:") for c in self.columns if c.merge.startswith("latest:")}
        )

    @cached_property
    def upsert_sql(self) -> str:
        cols = self.all_columns
        names = ", ".join(c.name for c in cols)
        arrays = ", ".join(f"${i + 1}::{c.type}[]" for i, c in enumerate(cols))
        keys = ", ".join(c.name for c in self.key)
        updates = [
            f"{c.name} = {_merge_sql(self.name, c)}" for c in self.columns if c.merge != KEEP
        ]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.name} ({names}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({keys}) {action}"
        )


def _merge_sql(table: str, c: Column) -> str:
    old, new = f"{table}.{c.name}", f"EXCLUDED.{c.name}"
    if c.merge == SUM:
        return f"{old} + {new}"
    if c.type == "text":  # compare as Python does (code points), whatever the database locale
        old = f'{old} COLLATE "C"'
    if c.merge == MAX:
        return f"GREATEST({old}, {new})"  # GREATEST/LEAST ignore NULLs
    if c.merge == MIN:
        return f"LEAST({old}, {new})"
    version = c.merge.removeprefix("latest:")
    return (
        f"CASE WHEN EXCLUDED.{version} > COALESCE({table}.{version}, 0) THEN {new} ELSE {old} END"
    )


@dataclass
class Rows:
    table: Table
    rows: dict[tuple, dict[str, Any]] = field(default_factory=dict)

    def add(self, key: tuple, **values: Any) -> None:
        t = self.table
        row = self.rows.get(key)
        fresh = row is None
        if row is None:
            row = self.rows[key] = dict(t.blank)
        # "latest" columns compare against the version column's value before this merge.
        newer = (
            {v: values.get(v) is not None and values[v] > (row[v] or 0) for v in t.versions}
            if t.versions
            else {}
        )
        for name, new in values.items():
            merge = t.merges[name]
            old = row[name]
            if merge == SUM:
                row[name] = old + new
            elif merge == MAX:
                if new is not None and (old is None or new > old):
                    row[name] = new
            elif merge == MIN:
                if new is not None and (old is None or new < old):
                    row[name] = new
            elif merge == KEEP:
                if fresh or old is None:
                    row[name] = new
            elif newer[merge[7:]]:  # latest:<version>
                row[name] = new

    def statement(self) -> Statement | None:
        """The upsert of these rows (None: nothing to write)."""
        if not self.rows:
            return None
        keys = list(self.rows)
        arrays = [[k[i] for k in keys] for i in range(len(self.table.key))]
        arrays += [[self.rows[k][c.name] for k in keys] for c in self.table.columns]
        return self.table.upsert_sql, arrays

    async def write(self, conn: asyncpg.Connection) -> None:
        if (statement := self.statement()) is not None:
            await conn.execute(statement[0], *statement[1])


async def write_together(conn: asyncpg.Connection, batches: list[Rows], *also: Statement) -> None:
    """Every non-empty Rows and the `also` statements in one statement (data-modifying CTEs):
    one round trip and one parse/plan/execute cycle instead of one per table. CTEs all see the
    same snapshot and PostgreSQL keeps only one of two changes to one row in a statement, so a
    table is written once per statement: a second Rows of a table already in it goes in a
    statement of its own afterwards (none does today; a model sharing a table stays exact)."""
    first: dict[str, Statement] = {}
    later: list[Statement] = []
    for rows in batches:
        if (statement := rows.statement()) is not None:
            if rows.table.name in first:
                later.append(statement)
            else:
                first[rows.table.name] = statement
    together = [*first.values(), *also]
    if len(together) == 1:
        await conn.execute(together[0][0], *together[0][1])
    elif together:
        sql, args = one_round_trip(*together)
        await conn.execute(sql, *args)
    for sql, args in later:
        await conn.execute(sql, *args)
