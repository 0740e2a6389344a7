"""The SQLite store: durable settings, named migrations applied once, an index that holds only
what takes part in detection, and failed writes that leave nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import make_channel_parties
from deconflict.principals import Party
from deconflict.rules import default_rules
from deconflict.service import Channel, new_id
from deconflict.store import SqliteStore
from deconflict.store.sqlite_schema import MIGRATIONS
from factories import declaration, point, throwaway_ledger, volume


def test_migrations_are_applied_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    SqliteStore(path).close()
    store = SqliteStore(path)
    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


def test_the_database_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db")
    with store.read() as txn:
        conn = txn._c  # the pragmas live on the connection itself
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_only_planned_and_active_declarations_are_in_the_index(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    store = SqliteStore(path)
    channel = Channel(store, default_rules(), throwaway_ledger())
    make_channel_parties(channel)
    who = {p.party: p for p in channel.list_principals() if p.role == "duty_officer"}
    body = declaration("air_operation", "CAP", volume(point(39.0, 35.0), buffer_m=1_000))
    kept = channel.declare(who["coalition"], body).declaration
    gone = channel.declare(who["coalition"], body).declaration
    channel.cancel(who["coalition"], gone.id, gone.version)
    store.close()
    with sqlite3.connect(path) as db:
        indexed = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT d.id FROM volume_index v JOIN declarations d"
                " ON d.seq = v.declaration_seq"
            )
        }
        versions = db.execute("SELECT count(*) FROM declaration_versions").fetchone()[0]
    assert indexed == {kept.id}
    assert versions == 3  # two declared, one amended by cancelling: history is kept


def test_a_write_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db")
    channel = Channel(store, default_rules(), throwaway_ledger())
    make_channel_parties(channel)
    ghost = Party("ghost", "Ghost", channel.list_parties()[0].created_at)

    def interrupted_write() -> None:
        with store.write() as txn:
            txn.insert_party(ghost)
            raise RuntimeError("crash in the middle of a write")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert "ghost" not in {p.id for p in channel.list_parties()}
    store.close()


def test_new_ids_are_uuid7_and_sort_by_creation_time() -> None:
    """Time-ordered ids keep every index keyed by id appending at its end."""
    earlier = [new_id("dcl") for _ in range(50)]
    time.sleep(0.002)
    later = new_id("dcl")
    assert len(set(earlier)) == 50
    assert all(later > i for i in earlier)
    parsed = uuid.UUID(later.removeprefix("dcl_"))
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert abs(int(later[4:16], 16) / 1000 - time.time()) < 60


def test_closing_waits_for_an_open_transaction_and_refuses_new_ones(tmp_path: Path) -> None:
    """The app closes the store at shutdown while a background tick may still be writing in a
    worker thread: the tick must finish on a live connection (a closed one crashes SQLite)."""
    store = SqliteStore(tmp_path / "d.db")
    inside, release = threading.Event(), threading.Event()
    finished: list[int] = []

    def tick() -> None:
        with store.write() as txn:
            inside.set()
            release.wait(5)
            finished.append(txn.count_declarations())

    worker = threading.Thread(target=tick)
    worker.start()
    assert inside.wait(5)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # waiting for the tick's transaction
    release.set()
    worker.join(5)
    closer.join(5)
    assert finished == [0]
    with pytest.raises(RuntimeError), store.read():
        pass
