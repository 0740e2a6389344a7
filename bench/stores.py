"""Declaring on each store: the whole service on SQLite (1 worker) and on PostgreSQL (1 and 4
workers), against a bare PostGIS table doing the same detection work without the service.

Same run, same data: one seeded scenario (``bench/declare.py``) pre-loads the SQLite file and a
PostgreSQL database with the same declarations through ``Channel.declare``; then each
configuration gets the same request bodies from ``--clients`` concurrent HTTP clients for
``--seconds``: ``POST /v1/declarations`` with everything it does (validation, index query, exact
geodesic test, conflicts, notifications and their events, ledger leaves and a signed
checkpoint, commit).

The BASELINE is a do-it-yourself PostGIS table in its own database on the same server: the
preloaded declarations' index boxes as ``geography`` with their time and altitude ranges under
one composite GiST (``btree_gist`` loaded, as a DIY schema would), and per declaration one
SERIALIZABLE transaction through psycopg: the 4D conflict query (``count(*)``), the insert, the
commit, retried on a serialisation failure. Its new rows are the index boxes that the service on
PostgreSQL stored for the same request bodies, so it does the same candidate search on the same
data; ``vs bare`` is a configuration's rate over the bare table's rate with the same number of
clients (1 for one worker, 4 for four), from the same run.

The PostgreSQL cluster is a throwaway one on loopback started here (``tests/pg_cluster.py``)
with durable commits (``fsync`` and ``synchronous_commit`` on, as SQLite's ``synchronous=FULL``),
unless ``--dsn`` names a server. Run ``.venv/bin/python bench/stores.py --help``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pg_cluster
from declare import (
    PARTIES,
    Figures,
    Scenario,
    _cpu_s,
    _encode,
    _hammer,
    figures,
    machine,
    preload,
    server,
)
from deconflict.declarations import Declaration
from deconflict.disclosure import Role
from deconflict.principals import Principal
from deconflict.runtime import open_channel
from deconflict.settings import DATABASE_URL_ENV, Settings

console = Console(highlight=False)
BARE = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE bare (id bigserial PRIMARY KEY, geog geography NOT NULL, during tstzrange NOT NULL,
                   alt floatrange NOT NULL);
"""
BARE_INDEX = "CREATE INDEX bare_gist ON bare USING gist (geog, during, alt)"
BOXES = (
    "SELECT ST_AsBinary(box), lower(during), upper(during), lower(alt), upper(alt)"
    " FROM volume_index WHERE declaration_seq > %s ORDER BY declaration_seq"
)
QUERY = (
    "SELECT count(*) FROM bare WHERE geog && ST_GeogFromWKB(%s)"
    " AND during && tstzrange(%s, %s, '[]') AND alt && floatrange(%s, %s, '[]')"
)
INSERT = (
    "INSERT INTO bare (geog, during, alt)"
    " VALUES (ST_GeogFromWKB(%s), tstzrange(%s, %s, '[]'), floatrange(%s, %s, '[]'))"
)


def _with_database(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    cluster = pg_cluster.start(durable=True)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@contextlib.contextmanager
def served(settings: Settings, workers: int, log: Path) -> Iterator[tuple[str, list[int]]]:
    """``deconflict serve --workers N``; the ids of its processes (the workers' parent first)."""
    extra = ("--workers", str(workers), "--set", "declaration_retention_days=36500")
    env = {DATABASE_URL_ENV: settings.database_url}
    with server(settings.data_dir, log, extra, env) as (base, pid):
        time.sleep(2.0 if workers > 1 else 0.0)  # every worker up
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        yield base, [pid, *(int(c) for c in children)]


def prepare(settings: Settings, active: int, seed: int) -> dict[str, str]:
    """Parties, principals and ``active`` declarations; the tokens."""
    channel = open_channel(settings)
    officers: dict[str, Principal] = {}
    tokens: dict[str, str] = {}
    for party in PARTIES:
        channel.add_party(party, party.title())
        officers[party], tokens[party] = channel.add_principal(party, "bench", Role.DUTY_OFFICER)
    stored: list[Declaration] = []
    preload(channel, officers, Scenario(seed), stored, active)
    channel.store.close()
    return tokens


def measure(
    name: str,
    settings: Settings,
    workers: int,
    requests: list[tuple[bytes, dict[str, str]]],
    clients: int,
    seconds: float,
    out: Path,
) -> Figures:
    with served(settings, workers, out / f"{name}.log") as (base, pids):
        cpu = sum(_cpu_s(p) for p in pids)
        latencies, conflicts, _, wall = asyncio.run(_hammer(base, requests, clients, seconds))
        cpu = sum(_cpu_s(p) for p in pids) - cpu
    note = f"{wall:.1f} s; CPU service {cpu / wall:.0%}"
    return figures(0, name, latencies, wall, conflicts, note)


def _bare_client(args: tuple[str, list[tuple[Any, ...]], float]) -> tuple[list[float], int]:
    dsn, rows, seconds = args
    latencies: list[float] = []
    retries = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        stop = time.perf_counter() + seconds
        for row in rows:
            if time.perf_counter() >= stop:
                break
            t = time.perf_counter()
            while True:
                try:
                    with conn.transaction():
                        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        conn.execute(QUERY, row).fetchone()
                        conn.execute(INSERT, row)
                    break
                except psycopg.errors.SerializationFailure:
                    retries += 1
            latencies.append(time.perf_counter() - t)
    return latencies, retries


def bare(server_url: str, store_url: str, preloaded: int, clients: int, seconds: float) -> Figures:
    """The baseline with ``clients`` processes, on a table loaded with the preloaded boxes."""
    name = f"bare_{clients}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}".encode())
        admin.execute(f"CREATE DATABASE {name}".encode())
    dsn = _with_database(server_url, name)
    with psycopg.connect(store_url) as store, psycopg.connect(dsn, autocommit=True) as conn:
        old = store.execute(BOXES.replace(">", "<="), (preloaded,)).fetchall()
        new = store.execute(BOXES, (preloaded,)).fetchall()
        conn.execute(BARE.encode())
        with conn.cursor().copy(
            "COPY bare (geog, during, alt) FROM STDIN"
        ) as copy:  # the preloaded boxes, as text
            for wkb, t0, t1, a0, a1 in old:
                copy.write_row(
                    (
                        bytes(wkb).hex(),
                        f"[{t0.isoformat()},{t1.isoformat()}]",
                        f"[{a0},{a1}]",
                    )
                )
        conn.execute(BARE_INDEX)
        conn.execute("ANALYZE bare")
    rows = [(bytes(w), t0, t1, a0, a1) for w, t0, t1, a0, a1 in new]
    shares = [(dsn, rows[i::clients], seconds) for i in range(clients)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_bare_client, shares)
    wall = time.perf_counter() - start
    latencies = [x for lat, _ in results for x in lat]
    retries = sum(r for _, r in results)
    ran_out = sum(len(lat) for lat, _ in results) >= len(rows)
    note = f"{len(old):,} boxes stored; {retries:,} retries" + (
        "; ran out of rows" if ran_out else ""
    )
    return figures(0, f"bare PostGIS x{clients}", latencies, wall, [0] * len(latencies), note)


def main(
    active: Annotated[int, typer.Option(help="Declarations stored before measuring.")] = 10_000,
    seconds: Annotated[float, typer.Option(help="Length of each measurement.")] = 15.0,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 8,
    dsn: Annotated[str | None, typer.Option(help="A PostgreSQL server (postgres db).")] = None,
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Folder for data and logs.")] = None,
) -> None:
    folder = out or Path(tempfile.mkdtemp(prefix="bench-stores-"))
    for name, value in machine(folder).items():
        console.print(f"  {name}: {value}", markup=False)
    with postgres(dsn) as server_url:
        with psycopg.connect(server_url, autocommit=True) as admin:
            version = admin.execute("SELECT version()").fetchone()
            admin.execute(b"DROP DATABASE IF EXISTS bench_store")
            admin.execute(b"CREATE DATABASE bench_store")
        console.print(f"  postgres: {version[0] if version else '?'}", markup=False)
        store_url = _with_database(server_url, "bench_store")
        preloaded = 0
        lite = Settings(data_dir=folder / "sqlite")
        pg = Settings(data_dir=folder / "postgres", database_url=store_url)
        tokens: dict[str, str] = {}
        for settings in (lite, pg):
            start = time.perf_counter()
            tokens[settings.database_name] = prepare(settings, active, seed)
            took = time.perf_counter() - start
            console.print(f"preloaded {settings.database_name} in {took:.0f} s")
        with psycopg.connect(store_url) as conn:
            top = conn.execute("SELECT max(seq) FROM declarations").fetchone()
            preloaded = int(top[0]) if top and top[0] is not None else 0
        probes = Scenario(seed + 1)
        bodies = [probes.next() for _ in range(int(seconds * 1000))]
        rows: list[Figures] = []
        for name, settings, workers in (
            ("sqlite, 1 worker", lite, 1),
            ("postgres, 1 worker", pg, 1),
            ("postgres, 4 workers", pg, 4),
        ):
            requests = [_encode(p, b, tokens[settings.database_name]) for p, b in bodies]
            rows.append(measure(name, settings, workers, requests, clients, seconds, folder))
            console.print(rows[-1])
        for n in (1, 4):
            rows.append(bare(server_url, store_url, preloaded, n, seconds))
            console.print(rows[-1])
    table = Table(
        title=f"{active:,} active declarations, {clients} HTTP clients, {seconds:.0f} s each"
    )
    for col in ("mode", "n", "p50 ms", "p99 ms", "decl/s", "conflicts/decl", "note"):
        table.add_column(col)
    for f in rows:
        table.add_row(
            f.mode,
            f"{f.n:,}",
            f"{f.p50_ms:.2f}",
            f"{f.p99_ms:.2f}",
            f"{f.per_s:,.1f}",
            f"{f.conflicts:.2f}",
            f.note,
        )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
