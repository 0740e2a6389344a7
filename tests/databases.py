"""PostgreSQL databases for running the suite against both stores.

The server is ``DECONFLICT_TEST_DATABASE_URL`` when set (CI starts one in ``.ci/run``), else a
throwaway cluster started here when the server binaries are installed. A template database
holds every migration. Each test gets the session's database emptied (:meth:`Databases.clean`);
a server shared by a module, or a test that needs a database with no tables, gets a new one
(``CREATE DATABASE ... TEMPLATE``, dropped in the background afterwards).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

import pg_cluster
from deconflict.settings import Settings
from deconflict.store.pg import PgStore
from deconflict.store.pg_conn import PgConnection, row_factory
from deconflict.store.sql import SqlConnection

TEMPLATE = "deconflict_template"


def _with_database(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


class Databases:
    """Creates databases from the template and drops them behind the tests."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._names = (f"test_{os.getpid()}_{i}" for i in itertools.count())
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._admin = psycopg.connect(server_url, autocommit=True)
        self._admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}".encode())
        self._admin.execute(f"CREATE DATABASE {TEMPLATE}".encode())
        PgStore(_with_database(server_url, TEMPLATE), cache_size=10).close()
        self._clean_url: str | None = None
        self._clean: psycopg.Connection[tuple[object, ...]] | None = None
        self._truncate = b""
        self._dropper = threading.Thread(target=self._drop_all, name="drop-databases", daemon=True)
        self._dropper.start()

    def create(self, *, empty: bool = False) -> str:
        """A new database with every migration applied (``empty``: with none)."""
        name = next(self._names)
        template = "template1" if empty else TEMPLATE
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}".encode())
        return _with_database(self.server_url, name)

    def clean(self) -> str:
        """The session's own database, emptied for the next test: other sessions on it ended
        (a store a test left open included, so no lock of it survives), every table truncated
        and every identity restarted. Much cheaper than a new database per test."""
        if self._clean_url is None:
            self._clean_url = self.create()
            self._clean = psycopg.connect(self._clean_url, autocommit=True)
            rows = self._clean.execute(
                b"SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                b" AND tablename NOT IN ('schema_migrations', 'spatial_ref_sys')"
            ).fetchall()
            self._truncate = ("TRUNCATE " + ", ".join(r[0] for r in rows)).encode()
            self._truncate += b" RESTART IDENTITY CASCADE"
        assert self._clean is not None
        self._clean.execute(
            b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            b" WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        self._clean.execute(self._truncate)
        return self._clean_url

    def drop(self, url: str) -> None:
        self._drops.put(url.rpartition("/")[2])

    def _drop_all(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            while (name := self._drops.get()) is not None:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())

    def close(self) -> None:
        if self._clean is not None:
            self._clean.close()
        self._drops.put(None)
        self._dropper.join(timeout=120)
        self._admin.close()


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The server's URL; ``None`` when there is none and no binaries to start one."""
    url = os.environ.get(pg_cluster.URL_ENV)
    if url:
        yield url
        return
    if not pg_cluster.installed():
        yield None
        return
    cluster = pg_cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@contextmanager
def raw_sql(settings: Settings) -> Iterator[SqlConnection]:
    """A plain connection to the store's database, outside the service, in autocommit: for
    reading what is stored, or for tampering as an attacker with database access would."""
    if settings.postgres_url:
        with psycopg.connect(
            settings.postgres_url, autocommit=True, row_factory=row_factory
        ) as conn:
            yield PgConnection(conn)
        return
    with contextlib.closing(sqlite3.connect(settings.database_path, isolation_level=None)) as lite:
        yield lite
