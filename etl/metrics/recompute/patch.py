"""Patching an incremental run's changed customers: their new rows diffed against the
stored ones, and only the differences written (UPDATEs and DELETEs by primary key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection

from etl.metrics.recompute.reading import in_list
from etl.metrics.workers import IsoMonths


def diff(
    old: list[tuple[Any, ...]], new: list[Any], k: int
) -> tuple[list[Any], list[Any], list[tuple[Any, ...]]]:
    """`new` against `old`, rows keyed by their first `k` columns: (rows to insert, rows
    whose values changed, keys of rows to delete)."""
    before = {r[:k]: r for r in old}
    pop = before.pop
    ins: list[Any] = []
    upd: list[Any] = []
    for r in new:
        o = pop(tuple(r[:k]), None)
        if o is None:
            ins.append(r)
        elif o != tuple(r):
            upd.append(r)
    return ins, upd, list(before)


class Patcher:
    """UPDATEs and DELETEs of rows by primary key, set-based (one statement per
    `ROWS_PER_STATEMENT` rows, keys as a VALUES list), on SQLite and PostgreSQL.

    Only the rows that changed are written: an UPDATE of non-indexed columns leaves the
    primary key and the month indexes alone, where DELETE + INSERT rewrote entries all over
    them (an incremental run's WAL was ~15,000 pages, mostly index pages).
    """

    ROWS_PER_STATEMENT = 200

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cur = dbapi.cursor()
        self.ph = "?" if self.sqlite else "%s"
        self._iso = IsoMonths()
        self._staged = 0

    def _params(self, rows: list[Any], month_pos: int | None) -> list[tuple[Any, ...]]:
        if not self.sqlite or month_pos is None:
            return [tuple(r) for r in rows]
        iso, m = self._iso, month_pos
        return [(*r[:m], iso[r[m]], *r[m + 1 :]) for r in rows]

    def _chunks(self, rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
        n = self.ROWS_PER_STATEMENT
        for i in range(0, len(rows), n):
            yield rows[i : i + n]

    def update(
        self, table: str, cols: list[str], k: int, rows: list[Any], month_pos: int | None
    ) -> None:
        """Set columns `cols[k:]` of the rows keyed by `cols[:k]` to the values in `rows`."""
        if not rows:
            return
        if not self.sqlite:
            stage = self._stage(table, cols, self._params(rows, month_pos))
            sets = ", ".join(f"{c} = s.{c}" for c in cols[k:])
            on = " AND ".join(f"t.{c} = s.{c}" for c in cols[:k])
            self.cur.execute(f"UPDATE {table} AS t SET {sets} FROM {stage} AS s WHERE {on}")
            self.cur.execute(f"DROP TABLE {stage}")
            return
        sets = ", ".join(f"{c} = v.column{i + 1}" for i, c in enumerate(cols) if i >= k)
        on = " AND ".join(f"t.{c} = v.column{i + 1}" for i, c in enumerate(cols[:k]))
        one = "(" + ",".join([self.ph] * len(cols)) + ")"
        for part in self._chunks(self._params(rows, month_pos)):
            self.cur.execute(
                f"UPDATE {table} AS t SET {sets} FROM (VALUES {','.join([one] * len(part))}) "
                f"AS v WHERE {on}",
                [x for r in part for x in r],
            )

    def delete(
        self, table: str, cols: list[str], keys: list[tuple[Any, ...]], month_pos: int | None
    ) -> None:
        """Delete the rows keyed (`cols`) by `keys`; `cols[0]` is the customer id, which
        lets both databases find the rows by primary key."""
        if not keys:
            return
        if not self.sqlite:
            stage = self._stage(table, cols, self._params(keys, month_pos))
            on = " AND ".join(f"t.{c} = s.{c}" for c in cols)
            self.cur.execute(f"DELETE FROM {table} AS t USING {stage} AS s WHERE {on}")
            self.cur.execute(f"DROP TABLE {stage}")
            return
        one = "(" + ",".join([self.ph] * len(cols)) + ")"
        for part in self._chunks(self._params(keys, month_pos)):
            ids = in_list(sorted({r[0] for r in part}))
            self.cur.execute(
                f"DELETE FROM {table} WHERE {cols[0]} IN ({ids}) AND ({', '.join(cols)}) IN "
                f"(VALUES {','.join([one] * len(part))})",
                [x for r in part for x in r],
            )

    def _stage(self, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> str:
        """PostgreSQL: the rows COPYed into a temporary table shaped like `table`'s
        columns. A VALUES list of thousands of placeholders cost more there than the
        work itself: psycopg re-parses a long statement's placeholders each time."""
        self._staged += 1
        stage = f"etl_patch_{self._staged}"
        names = ", ".join(cols)
        self.cur.execute(
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table} WITH NO DATA"
        )
        with self.cur.copy(f"COPY {stage} ({names}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        return stage

    def close(self) -> None:
        self.cur.close()
