"""The embedded default store: one SQLite file.

WAL journal with ``synchronous=FULL`` (a committed write survives a crash of the process and of
the machine), one writer connection behind a lock with ``BEGIN IMMEDIATE``, a reader connection
per thread, named ordered migrations, and an R*Tree over lon, lat, time and altitude for
candidate search.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deconflict.indexing import Box
from deconflict.store.cache import DeclarationCache
from deconflict.store.sqlite_schema import MIGRATIONS
from deconflict.store.tables import SqlTxn

__all__ = ["DECLARATION_CACHE_SIZE", "SqliteStore", "SqliteTxn"]

DECLARATION_CACHE_SIZE = 50_000
"""Parsed declarations kept in memory by (id, version): parsing re-validates geometry."""


class SqliteTxn(SqlTxn):
    """A transaction on the SQLite file; candidates come from the R*Tree ``volume_index``."""

    def _index_boxes(self, seq: int, index: Sequence[Box]) -> None:
        self._c.executemany(
            "INSERT INTO volume_index (min_lon, max_lon, min_lat, max_lat, min_t, max_t, min_alt,"
            " max_alt, declaration_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    b.min_lon,
                    b.max_lon,
                    b.min_lat,
                    b.max_lat,
                    b.min_t,
                    b.max_t,
                    b.min_alt,
                    b.max_alt,
                    seq,
                )
                for b in index
            ],
        )

    def _box_matches(self, b: Box) -> list[Any]:
        return list(
            self._c.execute(
                "SELECT d.id, d.version FROM volume_index v JOIN declarations d"
                " ON d.seq = v.declaration_seq WHERE v.min_lon <= ? AND v.max_lon >= ?"
                " AND v.min_lat <= ? AND v.max_lat >= ? AND v.min_t <= ? AND v.max_t >= ?"
                " AND v.min_alt <= ? AND v.max_alt >= ?",
                (
                    b.max_lon,
                    b.min_lon,
                    b.max_lat,
                    b.min_lat,
                    b.max_t,
                    b.min_t,
                    b.max_alt,
                    b.min_alt,
                ),
            ).fetchall()
        )


class SqliteStore:
    def __init__(self, path: Path, *, cache_size: int = DECLARATION_CACHE_SIZE) -> None:
        self.path = path
        self._cache = DeclarationCache(cache_size)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Open transactions, so that close() waits for them: a background tick that is still
        # running in a worker thread when the app shuts down must not lose its connection.
        self._open = 0
        self._closed = False
        self._idle = threading.Condition()
        self._writer = self._connect()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _migrate(self) -> None:
        with self._write_lock:
            c = self._writer
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
                done = {r[0] for r in c.execute("SELECT name FROM schema_migrations")}
                for name, sql in MIGRATIONS:
                    if name not in done:
                        for statement in sql.split(";"):
                            if statement.strip():
                                c.execute(statement)
                        c.execute("INSERT INTO schema_migrations VALUES (?)", (name,))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def applied_migrations(self) -> list[str]:
        with self.read() as _:
            rows = self._reader().execute("SELECT name FROM schema_migrations ORDER BY name")
            return [r[0] for r in rows]

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def _open_txn(self) -> Iterator[None]:
        with self._idle:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._open += 1
        try:
            yield
        finally:
            with self._idle:
                self._open -= 1
                self._idle.notify_all()

    @contextmanager
    def write(self) -> Iterator[SqliteTxn]:
        with self._open_txn(), self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTxn(self._writer, self._cache)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[SqliteTxn]:
        with self._open_txn():
            conn = self._reader()
            conn.execute("BEGIN")
            try:
                yield SqliteTxn(conn, self._cache)
            finally:
                conn.execute("COMMIT")

    def leads(self) -> bool:
        """Always: one process serves a SQLite file."""
        return True

    def close(self, wait_s: float = 30.0) -> None:
        """Refuse new transactions, wait (up to ``wait_s``) for the open ones to end, then close
        every connection."""
        with self._idle:
            self._closed = True
            self._idle.wait_for(lambda: self._open == 0, timeout=wait_s)
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
