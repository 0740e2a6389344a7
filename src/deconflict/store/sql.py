"""What the SQL shared by both stores may assume of a connection.

The tables' SQL is written once, in the dialect that SQLite and PostgreSQL share: ``?``
placeholders (``?1`` for a repeated one, ``:name`` with a mapping), ``INSERT ... ON CONFLICT``,
``RETURNING``, ``CASE`` rather than the two-argument ``max``, and no JSON table functions. The
SQLite connection runs it as it is; the PostgreSQL one (:mod:`deconflict.store.pg_conn`)
rewrites the placeholders. Rows answer to both a position and a column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["Cursor", "SqlConnection", "in_list"]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ..., /
    ) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


def in_list(n: int) -> str:
    """The placeholders of an ``IN`` list of ``n`` values; ``(NULL)`` (matching nothing) for
    none, since PostgreSQL refuses an empty list.

    >>> in_list(3), in_list(0)
    ('(?, ?, ?)', '(NULL)')
    """
    return "(" + (", ".join("?" * n) or "NULL") + ")"
