"""A psycopg connection that runs the SQL shared with SQLite (:mod:`deconflict.store.sql`).

psycopg takes ``%s`` and ``%(name)s`` placeholders; the shared SQL has SQLite's ``?``, ``?1``
and ``:name``. Each statement is rewritten once (cached) outside string literals: ``?`` becomes
``%s``, ``?N`` becomes ``%(pN)s``, ``:name`` becomes ``%(name)s`` and a literal ``%`` is
doubled. Rows answer to a position and to a column name, as ``sqlite3.Row`` does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

__all__ = ["PgConnection", "Row", "row_factory", "translate"]

_TOKEN = re.compile(r"'(?:[^']|'')*'|\?(\d+)|\?|::|:([A-Za-z_]\w*)|%")


class Row(tuple[Any, ...]):
    """A row by position (``row[0]``) or by column name (``row["id"]``)."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return functools.partial(Row, names=names)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, bool]:
    """psycopg's form of a shared statement, and whether it numbers its placeholders.

    >>> translate("SELECT * FROM t WHERE a = ?1 OR b = ?1 AND c LIKE 'x?%'")
    ("SELECT * FROM t WHERE a = %(p1)s OR b = %(p1)s AND c LIKE 'x?%%'", True)
    >>> translate("SELECT x::text FROM t WHERE a = :party LIMIT ?")
    ('SELECT x::text FROM t WHERE a = %(party)s LIMIT %s', False)
    """
    numbered = False

    def one(m: re.Match[str]) -> str:
        nonlocal numbered
        text = m.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if m.group(1) is not None:
            numbered = True
            return f"%(p{m.group(1)})s"
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if m.group(2) is not None:
            return f"%({m.group(2)})s"
        return text

    return _TOKEN.sub(one, sql), numbered


def _params(
    numbered: bool, params: Sequence[Any] | Mapping[str, Any]
) -> Sequence[Any] | Mapping[str, Any]:
    if numbered and not isinstance(params, Mapping):
        return {f"p{i}": v for i, v in enumerate(params, 1)}
    return params


class PgConnection:
    """The :class:`deconflict.store.sql.SqlConnection` calls over one psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.raw = conn

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /
    ) -> psycopg.Cursor[Row]:
        query, numbered = translate(sql)
        return self.raw.execute(query.encode(), _params(numbered, parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Row]:
        query, numbered = translate(sql)
        cur = self.raw.cursor()
        rows = [_params(numbered, p) for p in parameters]
        if rows:
            cur.executemany(query.encode(), rows)
        return cur

    def native(self, sql: str, parameters: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        """Run PostgreSQL's own SQL (``%s`` placeholders, casts), not rewritten."""
        return self.raw.execute(sql.encode(), parameters)
