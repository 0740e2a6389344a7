"""Spike for issue 6: check-then-insert in PostgreSQL under concurrency, and its remedies.

``anomaly`` races two sessions over and over. Each one checks for a stored row that overlaps
its new window (``tstzrange &&``, with PostGIS also ``ST_DWithin`` on geography), waits at a
barrier until the other has checked too, inserts, and commits. The two new windows overlap, so
a correct store either lets one session see the other's row or aborts one of them. A trial in
which both commit having seen nothing is an anomaly: two conflicting declarations accepted
with no conflict recorded. The variants change where the window lies, the index, and the
remedy (advisory locks on index cells, a locked time-bucket row, a sentinel row, no index).

``baseline`` measures the bare do-it-yourself table of the issue: a 4D conflict query (geography,
time range, altitude range; one composite GiST index) then an insert, per declaration, with
1 and 4 client processes, and the same with the locks a store would take.

It needs psycopg 3, which the project does not depend on; run it from a throwaway venv
(see docs/postgres.md)::

    DSN=postgresql://postgres@127.0.0.1:55432/spike
    /tmp/pgvenv/bin/python bench/pg_serializable_gist.py --dsn $DSN anomaly --trials 200
    /tmp/pgvenv/bin/python bench/pg_serializable_gist.py --dsn $DSN baseline --rows 100000

It creates and drops its own schema (``spike_gist``) in the given database.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SCHEMA = "spike_gist"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SLOT = timedelta(hours=2)
"""Stored rows of the anomaly table take the first hour of each slot; the second is free."""
CENTRE = (38.0, 35.0)
"""lon, lat of the anomaly trials (eastern Syria)."""
NEAR_M = 5_000.0
CELL_DEG = 0.5
BUCKET = timedelta(hours=1)
LEDGER_KEY = 0x6C6564676572
"""Advisory lock key of the single ledger appender ("ledger")."""
MID_WAIT_S = 0.02
"""How long a session waits at the barrier between check and insert for a rival that may be
blocked on a lock it holds."""


def connect(dsn: str) -> Any:
    import psycopg  # noqa: PLC0415 - not a project dependency; see the module docstring

    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(f"SET search_path = {SCHEMA}, public")
    return conn


# schema -------------------------------------------------------------------------------------
def create_schema(dsn: str) -> None:
    with connect(dsn) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        c.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        c.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        c.execute(f"CREATE SCHEMA {SCHEMA}")
        c.execute("CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi)")
        c.execute("CREATE TABLE sentinel (id int PRIMARY KEY, n bigint NOT NULL)")
        c.execute("INSERT INTO sentinel VALUES (1, 0)")
        c.execute("CREATE TABLE buckets (bucket bigint PRIMARY KEY, n bigint NOT NULL)")
        c.execute(
            "CREATE TABLE ledger (idx bigint PRIMARY KEY, decl_id bigint NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )


def create_table(dsn: str, name: str, index: str) -> None:
    """``index``: none, range (GiST on the time range) or composite (geography, time, altitude)."""
    with connect(dsn) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")
        c.execute(
            f"CREATE TABLE {name} (id bigserial PRIMARY KEY, party int NOT NULL,"
            " geog geography(Geometry, 4326) NOT NULL, during tstzrange NOT NULL,"
            " alt floatrange NOT NULL)"
        )
        if index == "range":
            c.execute(f"CREATE INDEX {name}_during ON {name} USING gist (during)")
        elif index == "composite":
            c.execute(f"CREATE INDEX {name}_gist ON {name} USING gist (geog, during, alt)")


def fill_slots(dsn: str, name: str, rows: int) -> None:
    """One row per slot near the centre, in the first hour of the slot."""
    with connect(dsn) as c:
        c.execute(
            f"INSERT INTO {name} (party, geog, during, alt) SELECT 3,"
            " ST_SetSRID(ST_MakePoint(%s + (random() - 0.5) * 0.1, %s + (random() - 0.5) * 0.1),"
            " 4326)::geography, tstzrange(%s + g * %s, %s + g * %s + interval '1 hour'),"
            " floatrange(0, 3000) FROM generate_series(0, %s - 1) g",
            (*CENTRE, T0, SLOT, T0, SLOT, rows),
        )
        c.execute(f"ANALYZE {name}")


def fill_region(dsn: str, name: str, rows: int, seed: int) -> None:
    """Circles of 1-20 km over eastern Syria, 60 days, windows of 15 min to 4 h."""
    with connect(dsn) as c:
        c.execute("SELECT setseed(%s)", (seed / 1000,))
        c.execute(
            f"INSERT INTO {name} (party, geog, during, alt) SELECT 1 + (random() * 5)::int,"
            " ST_Buffer(ST_SetSRID(ST_MakePoint(35 + random() * 7, 32 + random() * 5), 4326)"
            "::geography, 1000 + random() * 19000, 'quad_segs=4'), tstzrange(s, s + d),"
            " floatrange(a, a + 300 + random() * 2700) FROM (SELECT %s + random() *"
            " interval '60 days' AS s, interval '15 minutes' + random() * interval '225 minutes'"
            " AS d, random() * 12000 AS a FROM generate_series(1, %s)) x",
            (T0, rows),
        )
        c.execute(f"ANALYZE {name}")


# one declaration ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decl:
    party: int
    lon: float
    lat: float
    radius_m: float
    start: datetime
    end: datetime
    alt_lo: float
    alt_hi: float

    def cells(self) -> list[int]:
        """Advisory lock keys of the (0.5 degree, 1 hour) cells the declaration touches, grown
        by its radius; sorted, so that two sessions take shared cells in the same order."""
        grow = self.radius_m / 111_000 + 0.05  # degrees, generous at these latitudes
        x0, x1 = int((self.lon - grow) // CELL_DEG), int((self.lon + grow) // CELL_DEG)
        y0, y1 = int((self.lat - grow) // CELL_DEG), int((self.lat + grow) // CELL_DEG)
        t0, t1 = bucket_of(self.start), bucket_of(self.end)
        keys = {
            cell_key(x, y, t)
            for x in range(x0, x1 + 1)
            for y in range(y0, y1 + 1)
            for t in range(t0, t1 + 1)
        }
        return sorted(keys)

    def buckets(self) -> list[int]:
        return list(range(bucket_of(self.start), bucket_of(self.end) + 1))


def bucket_of(t: datetime) -> int:
    return int((t - T0) // BUCKET)


def cell_key(x: int, y: int, t: int) -> int:
    digest = hashlib.blake2b(f"{x}:{y}:{t}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


CHECK_RANGE = "SELECT count(*) FROM {t} WHERE party <> %(party)s AND during && %(during)s"
CHECK_4D = (
    "SELECT count(*) FROM {t} WHERE party <> %(party)s AND during && %(during)s"
    " AND alt && floatrange(%(alt_lo)s, %(alt_hi)s, '[]')"
    " AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography,"
    " %(near)s)"
)
INSERT = (
    "INSERT INTO {t} (party, geog, during, alt) VALUES (%(party)s, ST_Buffer(ST_SetSRID("
    "ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, %(radius)s, 'quad_segs=4'),"
    " %(during)s, floatrange(%(alt_lo)s, %(alt_hi)s, '[]')) RETURNING id"
)


def params(d: Decl) -> dict[str, Any]:
    from psycopg.types.range import Range  # noqa: PLC0415

    return {
        "party": d.party,
        "lon": d.lon,
        "lat": d.lat,
        "radius": d.radius_m,
        "near": d.radius_m * 2 + NEAR_M,
        "during": Range(d.start, d.end, "[]"),
        "alt_lo": d.alt_lo,
        "alt_hi": d.alt_hi,
    }


# remedies: what a session does before its check --------------------------------------------
def lock_cells(c: Any, d: Decl) -> None:
    # unnest keeps the array's order, so the locks are taken in sorted order
    c.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) k", (d.cells(),))


def lock_buckets(c: Any, d: Decl) -> None:
    for b in d.buckets():  # ascending: no deadlock between two sessions
        c.execute(
            "INSERT INTO buckets VALUES (%s, 1) ON CONFLICT (bucket) DO UPDATE"
            " SET n = buckets.n + 1",
            (b,),
        )


def read_sentinel(c: Any, d: Decl) -> None:
    c.execute("SELECT n FROM sentinel WHERE id = 1")


def write_sentinel(c: Any, d: Decl) -> None:
    c.execute("UPDATE sentinel SET n = n + 1 WHERE id = 1")


def no_index_scans(c: Any, d: Decl) -> None:
    c.execute("SET LOCAL enable_indexscan = off")
    c.execute("SET LOCAL enable_bitmapscan = off")


def lock_ledger(c: Any, d: Decl) -> None:
    c.execute("SELECT pg_advisory_xact_lock(%s)", (LEDGER_KEY,))


def append_ledger(c: Any, decl_id: int) -> None:
    c.execute(
        "INSERT INTO ledger (idx, decl_id) SELECT coalesce(max(idx), -1) + 1, %s FROM ledger",
        (decl_id,),
    )


Step = Callable[[Any, Decl], None]


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    table: str
    index: str
    check: str
    isolation: str = "SERIALIZABLE"
    before: tuple[Step, ...] = ()
    locks: bool = False
    """Whether one session may block on the other before the barrier."""


ANOMALY_VARIANTS = [
    Variant("range, no index", "t_range_none", "none", CHECK_RANGE),
    Variant("range, GiST(during)", "t_range_gist", "range", CHECK_RANGE),
    Variant("PostGIS, no index", "t_4d_none", "none", CHECK_4D),
    Variant("PostGIS, GiST(geog,during,alt)", "t_4d_gist", "composite", CHECK_4D),
    Variant(
        "(i) cell locks, READ COMMITTED",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "READ COMMITTED",
        (lock_cells,),
        locks=True,
    ),
    Variant(
        "(i) cell locks, SERIALIZABLE",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "SERIALIZABLE",
        (lock_cells,),
        locks=True,
    ),
    Variant(
        "(ii) bucket rows, READ COMMITTED",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "READ COMMITTED",
        (lock_buckets,),
        locks=True,
    ),
    Variant(
        "(ii) bucket rows, SERIALIZABLE",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "SERIALIZABLE",
        (lock_buckets,),
        locks=True,
    ),
    Variant(
        "(iii) sentinel read, SERIALIZABLE",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "SERIALIZABLE",
        (read_sentinel,),
    ),
    Variant(
        "(iii) sentinel update, SERIALIZABLE",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "SERIALIZABLE",
        (write_sentinel,),
        locks=True,
    ),
    Variant(
        "SERIALIZABLE, index scans off",
        "t_4d_gist",
        "composite",
        CHECK_4D,
        "SERIALIZABLE",
        (no_index_scans,),
    ),
]


# the race -----------------------------------------------------------------------------------
def session(
    conn: Any,
    v: Variant,
    d: Decl,
    start: threading.Barrier,
    mid: threading.Barrier,
    out: dict[int, tuple[str, int]],
) -> None:
    import psycopg  # noqa: PLC0415

    start.wait()
    try:
        conn.execute(f"BEGIN ISOLATION LEVEL {v.isolation}")
        for step in v.before:
            step(conn, d)
        p = params(d)
        found = int(conn.execute(v.check.format(t=v.table), p).fetchone()[0])
        with contextlib.suppress(threading.BrokenBarrierError):
            mid.wait(MID_WAIT_S if v.locks else 10.0)
        conn.execute(INSERT.format(t=v.table), p)
        conn.execute("COMMIT")
        out[d.party] = ("committed", found)
    except psycopg.errors.SerializationFailure:
        conn.execute("ROLLBACK")
        out[d.party] = ("serialization_failure", 0)
    except psycopg.errors.DeadlockDetected:
        conn.execute("ROLLBACK")
        out[d.party] = ("deadlock", 0)


def trial_pair(
    where: str, pair: str, trial: int, slots: list[int], rows: int, rng: random.Random
) -> tuple[Decl, Decl]:
    """Two overlapping declarations of parties 1 and 2; ``pair``: same volume, or nested."""
    # A deleted row's key stays in the index's unions, so each trial of a table takes a new
    # window: later than those of every earlier trial, or in a slot no earlier trial used.
    if where == "later":
        start = T0 + SLOT * rows + timedelta(days=1 + trial, minutes=rng.randrange(0, 600))
    else:  # inside the stored span, in the free hour of a slot
        start = T0 + SLOT * slots[trial] + timedelta(minutes=70)
    end = start + timedelta(minutes=30)
    lon, lat = CENTRE
    a = Decl(1, lon, lat, 2_000.0, start, end, 0.0, 3_000.0)
    if pair == "same":
        return a, Decl(2, lon, lat, 2_000.0, start, end, 0.0, 3_000.0)
    # B's volume lies inside A's: A's key covers B's, not the other way round
    return a, Decl(2, lon, lat, 1_000.0, start + timedelta(minutes=5), end, 500.0, 2_000.0)


def race(
    dsn: str, v: Variant, where: str, pair: str, rows: int, trials: int, seed: int
) -> Counter[str]:
    rng = random.Random(seed)
    conns = [connect(dsn), connect(dsn)]
    tally: Counter[str] = Counter()
    with connect(dsn) as admin:
        base = admin.execute(f"SELECT coalesce(max(id), 0) FROM {v.table}").fetchone()[0]
        free = range(rows // 10, rows - rows // 10)
        slots = rng.sample(free, trials) if trials <= len(free) else rng.choices(free, k=trials)
        for trial in range(trials):
            a, b = trial_pair(where, pair, trial, slots, rows, rng)
            start, mid = threading.Barrier(2), threading.Barrier(2)
            out: dict[int, tuple[str, int]] = {}
            threads = [
                threading.Thread(target=session, args=(c, v, d, start, mid, out))
                for c, d in zip(conns, (a, b), strict=True)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            tally[classify(out)] += 1
            admin.execute(f"DELETE FROM {v.table} WHERE id > %s", (base,))
    for c in conns:
        c.close()
    return tally


def classify(out: dict[int, tuple[str, int]]) -> str:
    states = [out[1][0], out[2][0]]
    if states == ["committed", "committed"]:
        return "ANOMALY" if out[1][1] == 0 and out[2][1] == 0 else "seen"
    if "deadlock" in states:
        return "deadlock"
    if states.count("serialization_failure") == 2:
        return "both_aborted"
    return "aborted"


WHERE_PAIRS = [("later", "same"), ("later", "nested"), ("inside", "same"), ("inside", "nested")]


def anomaly(dsn: str, rows: int, trials: int, seed: int) -> None:
    create_schema(dsn)
    print(
        f"{rows} stored rows, {trials} trials per line; the new window lies later than every"
        " stored one or inside the stored span; the two volumes are the same or nested"
    )
    print(
        f"{'variant':38} {'window/pair':13} {'ANOMALY':>7} {'seen':>5} {'aborted':>7}"
        f" {'both_ab':>7} {'deadlk':>6} {'s':>5}"
    )
    for v in ANOMALY_VARIANTS:
        for where, pair in WHERE_PAIRS:
            # a fresh table each time: keys of earlier trials stay in the index's unions
            create_table(dsn, v.table, v.index)
            fill_slots(dsn, v.table, rows)
            t = time.perf_counter()
            tally = race(dsn, v, where, pair, rows, trials, seed)
            print(
                f"{v.name:38} {where + '/' + pair:13} {tally['ANOMALY']:7} {tally['seen']:5}"
                f" {tally['aborted']:7} {tally['both_aborted']:7} {tally['deadlock']:6}"
                f" {time.perf_counter() - t:5.1f}",
                flush=True,
            )


# baseline -----------------------------------------------------------------------------------
BASELINE_MODES: dict[str, tuple[str, tuple[Step, ...], bool]] = {
    # name: isolation, steps before the check, append a ledger row
    "serializable": ("SERIALIZABLE", (), False),
    "cells+RC": ("READ COMMITTED", (lock_cells,), False),
    "ledger lock+RC": ("READ COMMITTED", (lock_ledger,), True),
    "cells+ledger+RC": ("READ COMMITTED", (lock_cells,), True),
}


def random_decl(rng: random.Random) -> Decl:
    start = T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
    alt = rng.uniform(0, 12_000)
    return Decl(
        rng.randrange(1, 7),
        rng.uniform(35, 42),
        rng.uniform(32, 37),
        rng.uniform(1_000, 20_000),
        start,
        start + timedelta(minutes=rng.randrange(15, 240)),
        alt,
        alt + rng.uniform(300, 3_000),
    )


def client(args: tuple[str, str, float, int]) -> tuple[int, int, int, list[float], list[float]]:
    """One client process: declarations until the time is up. (count, retries, conflicts
    found, query latencies, transaction latencies)."""
    import psycopg  # noqa: PLC0415

    dsn, mode, seconds, seed = args
    isolation, before, ledger = BASELINE_MODES[mode]
    rng = random.Random(seed)
    conn = connect(dsn)
    done = retries = found = 0
    q_lat: list[float] = []
    t_lat: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        d = random_decl(rng)
        p = params(d)
        t0 = time.perf_counter()
        while True:
            try:
                conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
                for step in before:
                    step(conn, d)
                q0 = time.perf_counter()
                n = conn.execute(CHECK_4D.format(t="t_base"), p).fetchone()[0]
                q1 = time.perf_counter()
                decl_id = conn.execute(INSERT.format(t="t_base"), p).fetchone()[0]
                if ledger:
                    if not before or before[0] is not lock_ledger:
                        lock_ledger(conn, d)  # the appender lock last, held only to commit
                    append_ledger(conn, decl_id)
                conn.execute("COMMIT")
                break
            except psycopg.errors.SerializationFailure:
                conn.execute("ROLLBACK")
                retries += 1
        q_lat.append(q1 - q0)
        t_lat.append(time.perf_counter() - t0)
        done += 1
        found += int(n)
    conn.close()
    return done, retries, found, q_lat, t_lat


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(q * 1000) - 1] * 1000 if len(xs) > 1 else 0.0


def baseline(dsn: str, rows: int, seconds: float, clients: list[int], seed: int) -> None:
    create_schema(dsn)
    t = time.perf_counter()
    create_table(dsn, "t_base", "composite")
    fill_region(dsn, "t_base", rows, seed)
    print(f"{rows} rows loaded and indexed in {time.perf_counter() - t:.1f} s")
    with connect(dsn) as c:
        for setting in ("fsync", "synchronous_commit", "shared_buffers"):
            print(f"  {setting} = {c.execute(f'SHOW {setting}').fetchone()[0]}")
        plan = c.execute(
            "EXPLAIN " + CHECK_4D.format(t="t_base"), params(random_decl(random.Random(1)))
        ).fetchall()
        print("  plan: " + " / ".join(r[0].strip() for r in plan[:2]))
    print(
        f"{'mode':18} {'clients':>7} {'decl/s':>7} {'query p50':>9} {'query p99':>9}"
        f" {'txn p99':>8} {'retries':>7} {'found/decl':>10}"
    )
    ctx = multiprocessing.get_context("spawn")
    for mode in BASELINE_MODES:
        for n in clients:
            with ctx.Pool(n) as pool:
                results = pool.map(client, [(dsn, mode, seconds, seed + i) for i in range(n)])
            done = sum(r[0] for r in results)
            q = [x for r in results for x in r[3]]
            tx = [x for r in results for x in r[4]]
            print(
                f"{mode:18} {n:7} {done / seconds:7.0f} {pct(q, 0.5):7.2f}ms {pct(q, 0.99):7.2f}ms"
                f" {pct(tx, 0.99):6.2f}ms {sum(r[1] for r in results):7}"
                f" {sum(r[2] for r in results) / max(done, 1):10.2f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", required=True, help="libpq connection string or URL")
    ap.add_argument("--seed", type=int, default=6)
    sub = ap.add_subparsers(dest="command", required=True)
    an = sub.add_parser("anomaly", help="race two check-then-insert sessions")
    an.add_argument("--rows", type=int, default=2_000, help="stored rows (one per 2 h slot)")
    an.add_argument("--trials", type=int, default=200)
    bl = sub.add_parser("baseline", help="conflict query + insert throughput")
    bl.add_argument("--rows", type=int, default=100_000)
    bl.add_argument("--seconds", type=float, default=10.0)
    bl.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    a = ap.parse_args(argv)
    if a.command == "anomaly":
        anomaly(a.dsn, a.rows, a.trials, a.seed)
    else:
        baseline(a.dsn, a.rows, a.seconds, a.clients, a.seed)
    with connect(a.dsn) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
