"""The production store: PostgreSQL with PostGIS, shared by several service workers.

Every write transaction runs at READ COMMITTED and first takes one transaction-scoped advisory
lock, so writes are serialised across all workers exactly as SQLite's one writer serialises
them: detection reads candidates and writes conflicts with no other write in between, the ledger
appends in commit order, and event ids are handed out in commit order (a transaction becomes
visible before its locks are released). SERIALIZABLE is not relied on: with a GiST index it let
two conflicting declarations both commit (docs/postgres.md). Reads run at REPEATABLE READ, one
snapshot per read transaction. Candidates come from a PostGIS box, a time range and an altitude
range under one GiST index; the exact test stays in Python, as with SQLite.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from deconflict.indexing import Box
from deconflict.store.cache import DeclarationCache
from deconflict.store.pg_conn import PgConnection, Row, row_factory
from deconflict.store.pg_schema import MIGRATIONS
from deconflict.store.tables import SqlTxn

__all__ = ["LEADER_LOCK", "LEADER_RETRY_S", "MIGRATION_LOCK", "WRITE_LOCK", "PgStore", "PgTxn"]

WRITE_LOCK = 0x6465636F6E666C01
"""Advisory lock key held by every write transaction until it commits ("deconfl" + 1)."""
LEADER_LOCK = 0x6465636F6E666C03
"""Session advisory lock key held by the worker that runs the background drivers."""
LEADER_RETRY_S = 1.0
"""How often a worker that is not the leader tries to become it."""
MIGRATION_LOCK = 0x6465636F6E666C02
"""Advisory lock key held while migrations are applied, so that workers starting together
apply each once."""

_INSERT_BOX = (
    b"INSERT INTO volume_index (declaration_seq, box, during, alt) VALUES (%s,"
    b" ST_MakeEnvelope(%s, %s, %s, %s, 4326), tstzrange(to_timestamp(%s), to_timestamp(%s), '[]'),"
    b" floatrange(%s, %s, '[]'))"
)
_MATCHES = (
    "SELECT d.id, d.version FROM volume_index v JOIN declarations d ON d.seq = v.declaration_seq"
    " WHERE v.box && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
    " AND v.during && tstzrange(to_timestamp(%s), to_timestamp(%s), '[]')"
    " AND v.alt && floatrange(%s, %s, '[]')"
)


def _box_values(b: Box) -> tuple[float, ...]:
    return (b.min_lon, b.min_lat, b.max_lon, b.max_lat, b.min_t, b.max_t, b.min_alt, b.max_alt)


class PgTxn(SqlTxn):
    """A transaction on PostgreSQL; candidates come from the GiST over ``volume_index``."""

    _c: PgConnection

    def _index_boxes(self, seq: int, index: Sequence[Box]) -> None:
        rows = [(seq, *_box_values(b)) for b in index]
        if rows:
            self._c.raw.cursor().executemany(_INSERT_BOX, rows)

    def _box_matches(self, b: Box) -> list[Any]:
        return self._c.native(_MATCHES, _box_values(b)).fetchall()


class PgStore:
    """A pool of connections to one PostgreSQL database (``DECONFLICT_DATABASE_URL``)."""

    def __init__(self, url: str, *, cache_size: int, pool_size: int = 6) -> None:
        self.url = url
        self._cache = DeclarationCache(cache_size)
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[Row],
            kwargs={"autocommit": True, "row_factory": row_factory},
            # A fixed size: all connections are opened before the first request, none by a
            # request later (about 5 ms each); transactions wait for a free one.
            min_size=pool_size,
            max_size=pool_size,
            open=True,
            name="deconflict",
        )
        self._pool.wait(timeout=30.0)
        self._leader: psycopg.Connection[Any] | None = None
        self._leader_lock = threading.Lock()
        self._next_try = 0.0
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction("BEGIN") as conn:
            conn.native("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.native(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.native("SELECT name FROM schema_migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    conn.raw.execute(sql.encode())
                    conn.native("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))

    def applied_migrations(self) -> list[str]:
        with self._transaction("BEGIN READ ONLY") as conn:
            return [r[0] for r in conn.native("SELECT name FROM schema_migrations ORDER BY name")]

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[PgConnection]:
        with self._pool.connection() as raw:
            raw.execute(begin.encode())
            try:
                yield PgConnection(raw)
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    raw.execute(b"ROLLBACK")
                raise
            raw.execute(b"COMMIT")

    @contextmanager
    def write(self) -> Iterator[PgTxn]:
        with self._transaction("BEGIN ISOLATION LEVEL READ COMMITTED") as conn:
            conn.native("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield PgTxn(conn, self._cache)

    @contextmanager
    def read(self) -> Iterator[PgTxn]:
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
            yield PgTxn(conn, self._cache)

    def leads(self) -> bool:
        """Whether this worker holds the leader lock, on a connection of its own: when the
        leader dies its session ends, the lock is released, and another worker takes it over
        within :data:`LEADER_RETRY_S`."""
        with self._leader_lock:
            try:
                if self._leader is not None:
                    self._leader.execute(b"SELECT 1")
                    return True
                if time.monotonic() < self._next_try:
                    return False
                self._next_try = time.monotonic() + LEADER_RETRY_S
                conn = psycopg.connect(self.url, autocommit=True)
                row = conn.execute(b"SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
                if row is None or not row[0]:
                    conn.close()
                    return False
                self._leader = conn
            except psycopg.Error:
                self._drop_leadership()
                return False
            return True

    def _drop_leadership(self) -> None:
        if self._leader is not None:
            with contextlib.suppress(psycopg.Error):
                self._leader.close()
            self._leader = None

    def close(self, wait_s: float = 30.0) -> None:
        """Close the pool, waiting up to ``wait_s`` for connections in use; give up leading."""
        with self._leader_lock:
            self._drop_leadership()
        self._pool.close(timeout=wait_s)
