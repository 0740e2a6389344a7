"""Migrations, on each store: from empty, every migration once and in order; from the previous
release's schema (every migration but the last), the last one applies and the data written
before it is still served, still detected against and still verifies against the ledger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

import deconflict.store.pg as pg_store
import deconflict.store.sqlite as sqlite_store
from conftest import make_channel_parties
from databases import Databases, raw_sql
from deconflict.cli import app
from deconflict.runtime import open_channel, open_store
from deconflict.settings import Settings
from deconflict.store import pg_schema, sqlite_schema
from factories import declaration, point, volume

runner = CliRunner()


def _migrations(settings: Settings) -> tuple[tuple[str, str], ...]:
    return pg_schema.MIGRATIONS if settings.postgres_url else sqlite_schema.MIGRATIONS


@pytest.fixture
def empty(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings naming a store with no tables at all."""
    if store_kind == "sqlite":
        yield Settings(data_dir=tmp_path / "data")
        return
    databases: Databases = request.getfixturevalue("pg_databases")
    url = databases.create(empty=True)
    yield Settings(data_dir=tmp_path / "data", database_url=url)
    databases.drop(url)


@contextmanager
def previous_release(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    """Stores that know every migration but the last, as the previous release did."""
    with monkeypatch.context() as m:
        for module in (sqlite_store, pg_store):
            m.setattr(module, "MIGRATIONS", _migrations(settings)[:-1])
        yield


def _tables(sql: str) -> list[str]:
    return re.findall(r"CREATE (?:VIRTUAL )?TABLE (\w+)", sql)


def test_from_empty_every_migration_applies_once_in_order(empty: Settings) -> None:
    names = [name for name, _ in _migrations(empty)]
    open_store(empty).close()
    store = open_store(empty)  # a second start applies nothing again
    try:
        assert store.applied_migrations() == names
    finally:
        store.close()
    with raw_sql(empty) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(names)


def test_from_the_previous_release_the_data_is_kept_and_still_works(
    empty: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the previous release wrote: every row of its tables, written by today's code into
    # a store of its own and copied column by column into the previous release's schema.
    # (On postgres the source is the test's own database, named in the environment.)
    source = Settings(data_dir=tmp_path / "source")
    channel = open_channel(source)
    make_channel_parties(channel)
    who = {p.name: p for p in channel.list_principals()}
    old = channel.declare(
        who["coalition"],
        declaration("air_operation", "CAP", volume(point(39.0, 35.0), buffer_m=5_000)),
    ).declaration
    channel.store.close()

    with previous_release(monkeypatch, empty):
        open_store(empty).close()
    old_tables = [t for _, sql in _migrations(empty)[:-1] for t in _tables(sql)]
    _copy(source, empty, old_tables)
    empty.data_dir.mkdir(parents=True, exist_ok=True)
    for key in ("ledger.key", "ledger.pub"):
        (empty.data_dir / key).write_bytes((source.data_dir / key).read_bytes())

    channel = open_channel(empty)  # today's code: applies the last migration
    try:
        assert channel.store.applied_migrations() == [n for n, _ in _migrations(empty)]
        with channel.store.read() as txn:
            assert txn.get_declaration(old.id) == old
        # the old declaration is still in the index: a new one of another party meets it
        new = channel.declare(
            who["russia"],
            declaration("air_operation", "Sortie", volume(point(39.02, 35.0), buffer_m=5_000)),
        )
        assert [c["other_party"] for c in new.conflicts] == ["coalition"]
        # the last migration back-filled when each old declaration is done
        with channel.store.read() as txn:
            (conflict,) = txn.conflicts_of(old.id)
            assert conflict.id == new.conflicts[0]["id"]
            assert old.id in txn.declarations_done_before(old.volumes[0].time.end, 10)
    finally:
        channel.store.close()
    verified = runner.invoke(app, ["verify", "--data-dir", str(empty.data_dir)], env=_env(empty))
    assert verified.exit_code == 0, verified.output


def _env(settings: Settings) -> dict[str, str]:
    return {"DECONFLICT_DATABASE_URL": settings.database_url}


def _copy(source: Settings, target: Settings, tables: list[str]) -> None:
    """Copy the columns the target's tables have from the source's tables of the same name."""
    with raw_sql(source) as src, raw_sql(target) as dst:
        for table in tables:
            cur = dst.execute(f"SELECT * FROM {table} LIMIT 0")
            columns = [c[0] for c in cur.description]
            listed = ", ".join(columns)
            rows = src.execute(f"SELECT {listed} FROM {table}").fetchall()
            if rows:
                marks = ", ".join("?" * len(columns))
                dst.executemany(f"INSERT INTO {table} ({listed}) VALUES ({marks})", rows)
            if target.postgres_url and "seq" in columns:
                dst.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'),"
                    f" (SELECT coalesce(max(seq), 0) + 1 FROM {table}), false)"
                )
