"""Ledger: append rate and proof times at 10^6 leaves, and what the ledger adds to a declaration.

On a fresh data dir (``open_channel``: the service's SQLite file, settings and signing key):

1. **Appends.** Fills the ledger to ``--leaves`` with ``Ledger.append`` in write transactions of
   ``--batch`` entries (what a group commit would give), and gives the rate per tenth of the
   fill: the last tenth against the first is the check that appends do not slow with size. Then,
   at that size: a breakdown of a few batches (leaf bytes, signing, SQL, commit), and
   ``--singles`` appends of one entry per transaction, each with its own commit (fsync) and
   checkpoint signature, with the same breakdown.
2. **Proofs** at exactly ``--leaves``: ``stored_inclusion_proof`` for random (index, size) and
   ``stored_consistency_proof`` for random (first, size) in one read transaction, their
   verification, and ``Channel.inclusion`` / ``Channel.consistency`` with a read transaction each.
3. **Declarations, with and without the ledger**, on the same data dir with its full ledger:
   ``Channel.declare`` with the real ledger, and with ``channel.ledger`` replaced by a stub whose
   ``append`` does nothing. THE STUB EXISTS ONLY IN THIS SCRIPT: the service has no switch to
   turn the ledger off. The two modes run in alternating blocks so that drift on a shared
   machine hits both; ``vs stub`` is the ratio of their means.

BASELINE rows undo a fix of commit 981b8b3 for one measurement, in this script only, so that its
gain is a ratio within the run: batches whose leaves ``rfc8785.dumps`` encodes alternate with
batches of the real ``canonical_json``; the leaf bytes and a checkpoint signature are timed both
ways; and ``stored_root``, the second walk over the tree that each append made before, is timed.

Leaves are ``declaration.created`` entries of real declarations (``bench/declare.py``'s seeded
scenario), cycled from a pool, each with its own random salt and a subject id made by the
service's ``new_id`` (time-ordered since 981b8b3). Run it with ``.venv/bin/python bench/ledger.py
--help``; ``--quick`` is a smoke run of seconds. The full run (10^6 leaves) takes about a minute
on a 2-core machine; its database (about 1 GB) is deleted at the end unless ``--keep``. Figures
go to docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, cast

import rfc8785
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

import deconflict.ledger
import deconflict.notes
from declare import PARTIES, SITE_OWNER, Scenario, machine, source
from deconflict.declarations import parse_new
from deconflict.disclosure import Role
from deconflict.ledger import Entry, Ledger, Receipt, declaration_entry
from deconflict.merkle import (
    stored_consistency_proof,
    stored_inclusion_proof,
    stored_root,
    verify_consistency,
    verify_inclusion,
)
from deconflict.notes import Checkpoint, SignerKey
from deconflict.principals import Principal
from deconflict.runtime import open_channel
from deconflict.service import Channel, new_id, utc_now
from deconflict.settings import Settings
from deconflict.store.sqlite import SqliteStore, SqliteTxn

console = Console()

AIM_APPENDS_PER_S = 20_000
AIM_PROOF_MS = 1.0
STRETCHES = 10
"""The fill's rate is reported per tenth of the fill."""
FIXES = "981b8b3"
"""The commit that made appends faster; the BEFORE rows undo one of its fixes each."""

R = TypeVar("R")


def _progress() -> Progress:
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_calls(
    call: Callable[..., R], arg_lists: Iterable[Sequence[Any]]
) -> tuple[list[float], list[R]]:
    """``call`` on each argument list in turn: the seconds of each call, and the results."""
    seconds, results = [], []
    for args in arg_lists:
        t = time.perf_counter()
        results.append(call(*args))
        seconds.append(time.perf_counter() - t)
    return seconds, results


@dataclass
class Latency:
    """p50, p99 (the maximum below 100 samples), max and mean of timings, in ms."""

    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        ms = sorted(s * 1e3 for s in seconds)
        p99 = ms[-1] if len(ms) < 100 else statistics.quantiles(ms, n=100, method="inclusive")[98]
        return cls(len(ms), statistics.median(ms), p99, ms[-1], statistics.fmean(ms))

    def cells(self) -> list[str]:
        ms = (self.p50_ms, self.p99_ms, self.max_ms, self.mean_ms)
        return [f"{self.n:,}", *(f"{x:.3f}" for x in ms)]


LATENCY_COLUMNS = ("n", "p50 ms", "p99 ms", "max ms", "mean ms")


@contextlib.contextmanager
def patched(module: Any, name: str, replacement: Any) -> Iterator[None]:
    """Replace a module global for the length of the block (bench-only; src is not changed)."""
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


# the entries ----------------------------------------------------------------------------------
def entry_pool(seed: int, size: int) -> list[Entry]:
    """``declaration.created`` entries of the seeded scenario's declarations: real leaves."""
    scenario, now = Scenario(seed), utc_now()
    pool = []
    for i in range(size):
        party, body = scenario.next()
        decl = parse_new(body, id=f"dcl_{i:032x}", party=party, now=now)
        pool.append(declaration_entry(decl, None, now, "prn_bench"))
    return pool


def fresh(pool: list[Entry], start: int, k: int) -> list[Entry]:
    """``k`` pooled entries from ``start`` on, each about a new object with an id from the
    service's ``new_id``, so that the subjects index grows as it does in service."""
    return [
        dataclasses.replace(pool[(start + j) % len(pool)], subjects=(new_id("dcl"),))
        for j in range(k)
    ]


# timing the parts of an append (bench-only instrumentation) -----------------------------------
class Clock:
    """Seconds spent per part of the work."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + seconds


def _timed(part: str, fn: Callable[..., Any], clock: Clock) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clock.add(part, time.perf_counter() - t)

    return timed


SQL_PARTS = {
    "ledger_size": "SQL: size",
    "ledger_node": "SQL: node lookups",
    "ledger_append": "SQL: leaf and node inserts",
    "ledger_save_checkpoint": "SQL: checkpoint row",
}
"""The ``LedgerTxn`` methods that ``Ledger.append`` calls, and the part each is timed as."""

CODE_PARTS = (
    (deconflict.ledger, "leaf_bytes", "leaf bytes (canonical_json)"),
    (deconflict.ledger, "root_from_inclusion", "checkpoint root (root_from_inclusion)"),
    (deconflict.notes, "sign_note", "sign checkpoint (Ed25519)"),
)
"""The module globals that ``Ledger.append`` calls, and the part each is timed as."""


class TimedTxn:
    """A store transaction's ledger methods, each call timed as its part."""

    def __init__(self, txn: SqliteTxn, clock: Clock) -> None:
        for name, part in SQL_PARTS.items():
            setattr(self, name, _timed(part, getattr(txn, name), clock))


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Time the code parts of ``Ledger.append`` (:data:`CODE_PARTS`) for the block."""
    with contextlib.ExitStack() as stack:
        for module, name, part in CODE_PARTS:
            timed = _timed(part, getattr(module, name), clock)
            stack.enter_context(patched(module, name, timed))
        yield


def timed_append(store: SqliteStore, ledger: Ledger, entries: list[Entry], clock: Clock) -> float:
    """One write transaction appending ``entries``; its wall time, split into ``clock``."""
    t0 = time.perf_counter()
    with store.write() as txn:
        t1 = time.perf_counter()
        ledger.append(cast(SqliteTxn, TimedTxn(txn, clock)), entries)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    clock.add("BEGIN IMMEDIATE", t1 - t0)
    clock.add("COMMIT (fsync)", t3 - t2)
    clock.add("total", t3 - t0)
    return t3 - t0


@dataclass
class Part:
    COLUMNS: ClassVar = (
        "part",
        "batch µs/append",
        "batch share",
        "single µs/append",
        "single share",
    )
    part: str
    batch_us: float
    batch_share: float
    single_us: float
    single_share: float

    def cells(self) -> list[str]:
        return [
            self.part,
            f"{self.batch_us:,.1f}",
            f"{self.batch_share:.0%}",
            f"{self.single_us:,.1f}",
            f"{self.single_share:.0%}",
        ]


def breakdown(batch: Clock, batch_leaves: int, single: Clock, single_leaves: int) -> list[Part]:
    """µs per append and share of the whole, per part; what no part covers is "other Python"."""
    total_b, total_s = batch.seconds["total"], single.seconds["total"]

    def row(part: str, b: float, s: float) -> Part:
        return Part(part, b / batch_leaves * 1e6, b / total_b, s / single_leaves * 1e6, s / total_s)

    parts = [p for p in dict.fromkeys([*batch.seconds, *single.seconds]) if p != "total"]
    rows = [row(p, batch.seconds.get(p, 0.0), single.seconds.get(p, 0.0)) for p in parts]
    rows.sort(key=lambda r: -r.batch_share)
    rest = [c.seconds["total"] - sum(c.seconds.get(p, 0.0) for p in parts) for c in (batch, single)]
    rows.append(row("other Python (hashes, salts, Receipt, loop)", *rest))
    rows.append(row("total", total_b, total_s))
    return rows


# leaf bytes and signing on their own ----------------------------------------------------------
@dataclass
class Component:
    COLUMNS: ClassVar = ("what", "n", "µs each", "note")
    what: str
    n: int
    us: float
    note: str = ""

    def cells(self) -> list[str]:
        return [self.what, f"{self.n:,}", f"{self.us:,.1f}", self.note]


ROUNDS = 4
"""Passes over the calls of each component, the components in ABBA order against drift."""


def _alternating(
    rows: Sequence[tuple[str, Callable[[], Any], Callable[..., object], Sequence[Any]]],
) -> list[Component]:
    """Each row's calls (what, a context to run them in, the call, its argument lists) timed in
    :data:`ROUNDS` passes, forwards and backwards in turn; µs per call."""
    seconds = [0.0] * len(rows)
    for r in range(ROUNDS):
        for i in range(len(rows)) if r % 2 == 0 else reversed(range(len(rows))):
            _, context, call, arg_lists = rows[i]
            with context():
                seconds[i] += sum(timed_calls(call, arg_lists)[0])
    counts = [len(row[3]) * ROUNDS for row in rows]
    return [
        Component(row[0], n, s / n * 1e6) for row, n, s in zip(rows, counts, seconds, strict=True)
    ]


def components(pool: list[Entry], signer_name: str) -> tuple[list[Component], bool]:
    """The leaf bytes and a checkpoint's signature, as in src and as before 981b8b3."""
    salt = bytes(range(16))
    leaf_bytes, leaves = deconflict.ledger.leaf_bytes, [(e, salt) for e in pool]
    old_json = partial(patched, deconflict.ledger, "canonical_json", rfc8785.dumps)
    # notes._signing is what 981b8b3 cached; undecorated, it derives the key each time.
    old_key = partial(patched, deconflict.notes, "_signing", deconflict.notes._signing.__wrapped__)
    key = SignerKey.generate(signer_name)
    checkpoint = Checkpoint(signer_name, 1_000_000, bytes(32))
    sign, signs = partial(checkpoint.sign, key), [()] * len(pool)
    held, body = Ed25519PrivateKey.from_private_bytes(key.seed), checkpoint.body().encode()
    now = [leaf_bytes(*args) for args in leaves]
    with old_json():
        same = sum(leaf_bytes(*args) == b for args, b in zip(leaves, now, strict=True))
    rows = _alternating(
        [
            ("leaf_bytes (canonical_json, as in src)", contextlib.nullcontext, leaf_bytes, leaves),
            (f"leaf_bytes by rfc8785.dumps (before {FIXES})", old_json, leaf_bytes, leaves),
            ("Checkpoint.sign (as in src)", contextlib.nullcontext, sign, signs),
            (f"Checkpoint.sign (before {FIXES})", old_key, sign, signs),
            (
                "Ed25519 sign with a held key",
                contextlib.nullcontext,
                partial(held.sign, body),
                signs,
            ),
        ]
    )
    rows[0].note = f"leaves of {statistics.fmean(map(len, now)):,.0f} bytes on average"
    rows[1].note = (
        f"BASELINE; same bytes on {same:,}/{len(pool):,} pooled entries; the row above is "
        f"{rows[1].us / rows[0].us:.2f}x as fast"
    )
    rows[2].note = "the key object and key id derived once per key"
    rows[3].note = (
        "BASELINE: derives the key object and key id each time; the row above is "
        f"{rows[3].us / rows[2].us:.2f}x as fast"
    )
    rows[4].note = "the signature alone"
    return rows, same == len(pool)


# 1. appends -----------------------------------------------------------------------------------
@dataclass
class Rate:
    COLUMNS: ClassVar = (
        "mode",
        "leaves",
        "txns",
        "appends/s",
        "µs/append",
        "vs first tenth",
        "note",
    )
    mode: str
    leaves: int
    seconds: float
    txns: int
    note: str = ""
    vs_first: float | None = None

    @property
    def per_s(self) -> float:
        return self.leaves / self.seconds

    def cells(self) -> list[str]:
        return [
            self.mode,
            f"{self.leaves:,}",
            f"{self.txns:,}",
            f"{self.per_s:,.0f}",
            f"{self.seconds / self.leaves * 1e6:,.1f}",
            "" if self.vs_first is None else f"{self.vs_first:.2f}",
            self.note,
        ]


def fill(store: SqliteStore, ledger: Ledger, pool: list[Entry], n: int, batch: int) -> list[Rate]:
    """Append to ``n`` leaves in transactions of ``batch``; the overall rate and one per tenth."""
    with store.read() as txn:
        done = txn.ledger_size()
    marks = [(done, 0.0)]
    spent = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    with _progress() as bar:
        task = bar.add_task(f"appending to {n:,} leaves, {batch:,} per transaction", total=n)
        bar.advance(task, done)
        while done < n:
            k = min(batch, n - done)
            entries = fresh(pool, done, k)
            t = time.perf_counter()
            with store.write() as txn:
                ledger.append(txn, entries)
            spent += time.perf_counter() - t
            done += k
            marks.append((done, spent))
            bar.advance(task, k)
            if not console.is_terminal and done % max(n // 10, 1) < k:
                console.print(f"  {done:,}/{n:,} in {marks[-1][1]:,.0f} s")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    note = f"this process used {cpu / wall:.0%} of a core; load after {_load()}"
    rates = [Rate("fill, overall", n - marks[0][0], marks[-1][1], len(marks) - 1, note)]
    tenth = n / STRETCHES
    last = marks[0]
    for i in range(1, STRETCHES + 1):
        end = next(m for m in marks if m[0] >= round(i * tenth))
        if end[0] > last[0]:
            txns = sum(1 for m in marks if last[0] < m[0] <= end[0])
            rates.append(
                Rate(f"fill {last[0]:,} to {end[0]:,}", end[0] - last[0], end[1] - last[1], txns)
            )
        last = end
    for r in rates[1:]:
        r.vs_first = r.per_s / rates[1].per_s
    return rates


def sampled_batches(
    store: SqliteStore, ledger: Ledger, pool: list[Entry], batch: int, count: int
) -> tuple[Rate, Clock]:
    clock = Clock()
    with instrumented(clock):
        for i in range(count):
            timed_append(store, ledger, fresh(pool, i * batch, batch), clock)
    rate = Rate("batches, timed parts", batch * count, clock.seconds["total"], count)
    return rate, clock


def singles(store: SqliteStore, ledger: Ledger, pool: list[Entry], n: int) -> tuple[Rate, Clock]:
    clock = Clock()
    seconds = []
    with instrumented(clock), _progress() as bar:
        task = bar.add_task(f"{n:,} appends, one per transaction", total=n)
        for i in range(n):
            seconds.append(timed_append(store, ledger, fresh(pool, i, 1), clock))
            bar.advance(task)
    lat = Latency.of(seconds)
    note = f"p50 {lat.p50_ms:.2f} ms, p99 {lat.p99_ms:.2f} ms"
    return Rate("one entry per transaction", n, sum(seconds), n, note), clock


def json_before_and_now(
    store: SqliteStore, ledger: Ledger, pool: list[Entry], batch: int, count: int
) -> list[Rate]:
    """Batches whose leaves ``rfc8785.dumps`` encodes (as before 981b8b3) and batches of the
    code in src, in ABBA order."""
    spent = {"before": 0.0, "now": 0.0}
    for i in range(2 * count):
        mode = "now" if i % 4 in (0, 3) else "before"
        encoder = rfc8785.dumps if mode == "before" else deconflict.ledger.canonical_json
        entries = fresh(pool, i * batch, batch)
        with patched(deconflict.ledger, "canonical_json", encoder):
            t = time.perf_counter()
            with store.write() as txn:
                ledger.append(txn, entries)
            spent[mode] += time.perf_counter() - t
    leaves = batch * count
    before = (
        f"BASELINE: canonical_json swapped back to rfc8785.dumps in this script (as before {FIXES})"
    )
    ratio = spent["before"] / spent["now"]
    return [
        Rate("batches, rfc8785.dumps leaves", leaves, spent["before"], count, before),
        Rate(
            "batches, canonical_json leaves",
            leaves,
            spent["now"],
            count,
            f"as in src, alternating with the row above: {ratio:.2f}x its rate",
        ),
    ]


# 2. proofs ------------------------------------------------------------------------------------
@dataclass
class ProofFigures:
    COLUMNS: ClassVar = ("what", *LATENCY_COLUMNS, "note")
    what: str
    latency: Latency
    note: str = ""

    def cells(self) -> list[str]:
        return [self.what, *self.latency.cells(), self.note]


def proofs(channel: Channel, size: int, n: int, rng: random.Random) -> list[ProofFigures]:
    """Random proofs in the tree of ``size``, made from the stored nodes and all verified."""
    indexes = [(rng.randrange(size), size) for _ in range(n)]
    firsts = [(rng.randrange(1, size), size) for _ in range(n)]
    with channel.store.read() as txn:
        lookup = txn.ledger_node
        if txn.ledger_size() != size:
            raise RuntimeError(f"the ledger has {txn.ledger_size()} leaves, not {size}")
        root = stored_root(lookup, size)
        made_i, inclusions = timed_calls(partial(stored_inclusion_proof, lookup), indexes)
        leaves = [lookup(0, i) for i, _ in indexes]
        checks = zip(indexes, leaves, inclusions, strict=True)
        checked_i, _ = timed_calls(verify_inclusion, [(*a, leaf, p, root) for a, leaf, p in checks])
        made_c, consistencies = timed_calls(partial(stored_consistency_proof, lookup), firsts)
        # A client holds the first tree's root; made here, it is the walk an append made before.
        walked, first_roots = timed_calls(partial(stored_root, lookup), [(f,) for f, _ in firsts])
        checks = zip(firsts, first_roots, consistencies, strict=True)
        checked_c, _ = timed_calls(
            verify_consistency, [(f, s, r, root, p) for (f, s), r, p in checks]
        )
    via_channel_i, _ = timed_calls(channel.inclusion, indexes)
    via_channel_c, _ = timed_calls(channel.consistency, firsts)

    def hashes(made: list[list[bytes]]) -> str:
        return f"{statistics.fmean(map(len, made)):.1f} hashes; one read txn; all {n:,} verified"

    return [
        ProofFigures("inclusion: stored_inclusion_proof", Latency.of(made_i), hashes(inclusions)),
        ProofFigures(
            "inclusion: verify_inclusion",
            Latency.of(checked_i),
            "root_from_inclusion and a comparison: how Ledger.append now gets its root",
        ),
        ProofFigures(
            "consistency: stored_consistency_proof", Latency.of(made_c), hashes(consistencies)
        ),
        ProofFigures("consistency: verify_consistency", Latency.of(checked_c)),
        ProofFigures("inclusion: Channel.inclusion", Latency.of(via_channel_i), "a txn per call"),
        ProofFigures(
            "consistency: Channel.consistency", Latency.of(via_channel_c), "a txn per call"
        ),
        ProofFigures(
            "root: stored_root",
            Latency.of(walked),
            f"BASELINE: the walk each append made before {FIXES}; sizes of the consistency pairs",
        ),
    ]


# 3. declarations with and without the ledger ---------------------------------------------------
class NoLedger:
    """BENCH-ONLY stub put in ``channel.ledger``: appends nothing. The service has no such
    switch; this measures what the ledger adds to a declaration."""

    def append(self, txn: object, entries: Sequence[Entry]) -> None:
        return None


class TimedLedger:
    """The real ledger with the time of each ``append`` summed (two clock reads per call)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger, self.seconds = ledger, 0.0

    def append(self, txn: SqliteTxn, entries: Sequence[Entry]) -> Receipt | None:
        t = time.perf_counter()
        try:
            return self.ledger.append(txn, entries)
        finally:
            self.seconds += time.perf_counter() - t


@dataclass
class DeclareFigures:
    COLUMNS: ClassVar = (
        *("workload", "mode", *LATENCY_COLUMNS),
        *("decl/s", "leaves/decl", "conflicts/decl", "vs stub", "note"),
    )
    workload: str
    mode: str
    latency: Latency
    leaves: float
    conflicts: float
    vs_stub: float = 1.0
    note: str = ""

    def cells(self) -> list[str]:
        return [
            self.workload,
            self.mode,
            *self.latency.cells(),
            f"{1e3 / self.latency.mean_ms:,.0f}",
            f"{self.leaves:.2f}",
            f"{self.conflicts:.2f}",
            f"{self.vs_stub:.3f}x",
            self.note,
        ]


def declarations(
    channel: Channel,
    officers: dict[str, Principal],
    workload: str,
    bodies: list[tuple[str, dict[str, Any]]],
    block: int,
) -> list[DeclareFigures]:
    """Alternate blocks of the real ledger and the stub (ABBA order) over ``bodies``."""
    real, stub = channel.ledger, cast(Ledger, NoLedger())
    timed = TimedLedger(real)
    seconds: dict[str, list[float]] = {"ledger": [], "stub": []}
    conflicts: dict[str, int] = {"ledger": 0, "stub": 0}
    leaves = 0
    with _progress() as bar:
        task = bar.add_task(f"declaring: {workload}, ledger and stub", total=len(bodies))
        for b, start in enumerate(range(0, len(bodies), block)):
            mode = "ledger" if b % 4 in (0, 3) else "stub"
            channel.ledger = cast(Ledger, timed) if mode == "ledger" else stub
            with channel.store.read() as txn:
                before = txn.ledger_size()
            for party, body in bodies[start : start + block]:
                t = time.perf_counter()
                outcome = channel.declare(officers[party], body)
                seconds[mode].append(time.perf_counter() - t)
                conflicts[mode] += len(outcome.conflicts)
                bar.advance(task)
            with channel.store.read() as txn:
                added = txn.ledger_size() - before
            if mode == "stub" and added:
                raise RuntimeError("the stub appended to the ledger")
            leaves += added
    channel.ledger = real
    stub_row, ledger_row = (
        DeclareFigures(
            workload,
            mode,
            Latency.of(seconds[mode]),
            (leaves if mode == "ledger" else 0) / len(seconds[mode]),
            conflicts[mode] / len(seconds[mode]),
        )
        for mode in ("stub", "ledger")
    )
    stub_row.note = "BASELINE: channel.ledger is a bench-only stub"
    extra_ms = ledger_row.latency.mean_ms - stub_row.latency.mean_ms
    extra_p50_ms = ledger_row.latency.p50_ms - stub_row.latency.p50_ms
    append_ms = timed.seconds / ledger_row.latency.n * 1e3
    ledger_row.note = (
        f"{extra_ms:+.3f} ms per declaration (p50 {extra_p50_ms:+.3f}); Ledger.append "
        f"{append_ms:.3f} ms of it"
    )
    ledger_row.vs_stub = ledger_row.latency.mean_ms / stub_row.latency.mean_ms
    return [stub_row, ledger_row]


# tables ---------------------------------------------------------------------------------------
def _left(col: str) -> bool:
    return col in ("mode", "note", "part", "what", "workload")


def _rich(title: str, rows: Sequence[Any]) -> Table:
    table = Table(title=title)
    for col in rows[0].COLUMNS:
        table.add_column(col, justify="left" if _left(col) else "right")
    for row in rows:
        table.add_row(*row.cells())
    return table


def _markdown(title: str, rows: Sequence[Any]) -> str:
    cols = rows[0].COLUMNS
    lines = [
        f"#### {title}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" if _left(c) else "---:" for c in cols) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# the run --------------------------------------------------------------------------------------
def main(
    leaves: Annotated[int, typer.Option(help="Leaves to fill the ledger to.")] = 1_000_000,
    batch: Annotated[int, typer.Option(help="Entries per write transaction in the fill.")] = 1000,
    sample: Annotated[
        int, typer.Option(help="Batches timed part by part, and per mode of the JSON baseline.")
    ] = 20,
    single: Annotated[
        int, typer.Option("--singles", help="Appends of one entry per transaction.")
    ] = 2000,
    proof_count: Annotated[
        int, typer.Option("--proofs", help="Random inclusion and consistency proofs each.")
    ] = 2000,
    declare_count: Annotated[
        int, typer.Option("--declarations", help="Declarations per mode and workload.")
    ] = 2000,
    block: Annotated[int, typer.Option(help="Declarations per alternating block.")] = 100,
    pool_size: Annotated[int, typer.Option("--pool", help="Distinct entries cycled.")] = 1000,
    seed: Annotated[
        int, typer.Option(help="Seed of the scenario and of the proof indexes.")
    ] = 2017,
    out: Annotated[Path | None, typer.Option(help="Fresh data dir (default: a temp dir).")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the database (about 1 GB at 10^6).")] = False,
    quick: Annotated[bool, typer.Option(help="Small sizes and samples: a smoke run.")] = False,
) -> None:
    """Ledger append rate and proof times at --leaves leaves, and the ledger's cost per
    declaration against a bench-only stub in the same run."""
    if quick:
        leaves, sample, single, proof_count, declare_count, block = 20_000, 4, 100, 200, 100, 25
    out = Path(tempfile.mkdtemp(prefix="deconflict-ledger-")) if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=out)
    if settings.database_path.exists():
        raise typer.BadParameter(f"{out} holds a database already; give a fresh --out")
    if not console.is_terminal:
        console.width = 160
    command = " ".join(["python", "bench/ledger.py", *sys.argv[1:]])
    facts = machine(out)
    console.print(f"[bold]{command}[/bold]")
    for name, value in facts.items():
        console.print(f"  {name}: {value}", markup=False, highlight=False)
    warnings: list[str] = []

    pool = entry_pool(seed, pool_size)
    channel = open_channel(settings)
    store, ledger = cast(SqliteStore, channel.store), channel.ledger
    comps, same_bytes = components(pool, ledger.origin)
    if not same_bytes:
        warnings.append("canonical_json and rfc8785.dumps give different leaves on the pool")
    for c in comps:
        console.print(f"  {c.what}: {c.us:,.1f} µs ({c.note})", markup=False, highlight=False)

    # 1. the fill, then proofs at exactly --leaves, then the rest of the append figures
    rates = fill(store, ledger, pool, leaves, batch)
    for r in rates:
        console.print(f"  {r.mode}: {r.per_s:,.0f} appends/s", markup=False, highlight=False)
    console.print(f"proofs at {leaves:,} leaves, {proof_count:,} of each kind; load {_load()}")
    proof_rows = proofs(channel, leaves, proof_count, random.Random(seed))
    console.print(f"{sample} batches of {batch:,}, timed part by part; load {_load()}")
    batch_rate, batch_clock = sampled_batches(store, ledger, pool, batch, sample)
    rates.append(batch_rate)
    console.print(f"{sample} batches each, rfc8785.dumps and canonical_json leaves, alternating")
    rates += json_before_and_now(store, ledger, pool, batch, sample)
    console.print(f"{single:,} appends of one entry each; load {_load()}")
    single_rate, single_clock = singles(store, ledger, pool, single)
    rates.append(single_rate)
    parts = breakdown(batch_clock, batch * sample, single_clock, single)

    # 3. declarations on the same data dir, its ledger now a little over --leaves
    officers = {}
    for party in PARTIES:
        channel.add_party(party, party.title())
        officers[party] = channel.add_principal(party, "bench", Role.DUTY_OFFICER)[0]
    quiet = Scenario(seed + 1)
    alone: list[tuple[str, dict[str, Any]]] = []
    while len(alone) < 2 * declare_count:
        party, body = quiet.next()
        if party != SITE_OWNER:
            alone.append(("coalition", body))
    busy = Scenario(seed + 2)
    mixed = [busy.next() for _ in range(2 * declare_count)]
    console.print(f"declarations, ledger and stub alternating; load {_load()}")
    decl_rows = declarations(channel, officers, "one party, no conflicts", alone, block)
    decl_rows += declarations(channel, officers, "declare.py scenario", mixed, block)
    with channel.store.read() as txn:
        final_size = txn.ledger_size()
    channel.store.close()
    db_bytes = sum(
        p.stat().st_size for p in out.iterdir() if p.name.startswith(settings.database_path.name)
    )
    if source().split(" of ")[0] != facts["source"].split(" of ")[0]:
        warnings.append(f"the source changed during the run: now {source()}")

    tables: dict[str, Sequence[Any]] = {
        "Appends": rates,
        "Where an append's time goes": parts,
        "Leaf bytes and signing alone": comps,
        "Proofs": proof_rows,
        "Declarations with and without the ledger": decl_rows,
    }
    for title, rows in tables.items():
        console.print(_rich(title, rows))
    overall = rates[0]
    made = [
        p for p in proof_rows if p.what.startswith(("inclusion: stored", "consistency: stored"))
    ]
    aims = [
        f"appends/s in-process (fill, {batch:,} per txn): {overall.per_s:,.0f} "
        f"{'meets' if overall.per_s >= AIM_APPENDS_PER_S else 'MISSES'} the aim of "
        f"≥ {AIM_APPENDS_PER_S:,}",
        f"appends/s with one entry per transaction: {single_rate.per_s:,.0f}",
        "proof generation p99: "
        + ", ".join(f"{p.what.split(':')[0]} {p.latency.p99_ms:.3f} ms" for p in made)
        + (
            " (meets the aim of < 1 ms)"
            if all(p.latency.p99_ms < AIM_PROOF_MS for p in made)
            else " (MISSES the aim of < 1 ms)"
        ),
        f"ledger now {final_size:,} leaves; database and WAL {db_bytes / 2**20:,.0f} MiB, "
        f"{db_bytes / final_size:,.0f} bytes per leaf",
        f"load average at the end: {_load()}",
    ]
    for line in aims:
        console.print(line, markup=False, highlight=False)
    sys.stdout.write("\n" + "\n".join(_markdown(t, rows) for t, rows in tables.items()))
    for warning in warnings:
        console.print(f"[red]WARNING: {warning}[/red]")
    result = {
        "command": command,
        "machine": facts,
        **{title: [asdict(row) for row in rows] for title, rows in tables.items()},
        "aims": aims,
        "warnings": warnings,
    }
    (out / "ledger.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not keep:
        for p in out.iterdir():
            if p.name.startswith(settings.database_path.name):
                p.unlink()
    console.print(f"figures in {out / 'ledger.json'}{'' if keep else '; database removed'}")


def run() -> None:
    typer.run(main)


if __name__ == "__main__":
    run()
