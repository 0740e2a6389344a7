"""Ledger: append rate and proof times at 10^6 leaves, and what the ledger adds to a declaration.

On a fresh data dir (``open_channel``: the service's SQLite file, settings and signing key):

1. **Appends.** Fills the ledger to ``--leaves`` with ``Ledger.append`` in write transactions of
   ``--batch`` entries (what a group commit would give), and gives the rate per tenth of the
   fill: the last tenth against the first is the check that appends do not slow with size. Then,
   at that size: a breakdown of a few batches (canonical JSON, signing, SQL, commit), and
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

A what-if, also only in this script: the same batches with the leaf's RFC 8785 canonical JSON
produced by ``json.dumps`` (after its numbers are put in ECMAScript form), interleaved with
batches of the real code, after checking that both give the same bytes on every pooled entry.

Leaves are ``declaration.created`` entries of real declarations (``bench/declare.py``'s seeded
scenario), cycled from a pool, each with its own random salt and a new random subject id (as the
service's ids are). Run it with ``.venv/bin/python bench/ledger.py --help``; ``--quick`` is a
smoke run of seconds. The full run (10^6 leaves) took 2 minutes on a 2-core machine; its
database (about 1 GB) is deleted at the end unless ``--keep``. Figures go to docs/benchmarks.md.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, cast

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
from deconflict.ledger import Audience, Entry, Ledger, Receipt, b64, declaration_entry
from deconflict.merkle import (
    stored_consistency_proof,
    stored_inclusion_proof,
    stored_root,
    verify_consistency,
    verify_inclusion,
)
from deconflict.principals import Principal
from deconflict.runtime import open_channel
from deconflict.service import Channel, new_id, utc_now
from deconflict.settings import Settings
from deconflict.store.sqlite import SqliteStore, SqliteTxn
from deconflict.volumes import format_time

console = Console()

AIM_APPENDS_PER_S = 20_000
AIM_PROOF_MS = 1.0
STRETCHES = 10
"""The fill's rate is reported per tenth of the fill."""


def _progress() -> Progress:
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console)


def _ms(seconds: Sequence[float]) -> tuple[float, float, float, float]:
    """p50, p99, max and mean in ms; p99 is the maximum below 100 samples."""
    ms = sorted(s * 1e3 for s in seconds)
    p99 = ms[-1] if len(ms) < 100 else statistics.quantiles(ms, n=100, method="inclusive")[98]
    return statistics.median(ms), p99, ms[-1], statistics.fmean(ms)


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
    """``k`` pooled entries from ``start`` on, each about a new object with a random id, as the
    service's ids are: the subjects index then grows at random places, as it does in service."""
    return [
        dataclasses.replace(pool[(start + j) % len(pool)], subjects=(new_id("dcl"),))
        for j in range(k)
    ]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# timing the parts of an append (bench-only instrumentation) -----------------------------------
class Clock:
    """Seconds spent per part of the work."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + seconds
        self.calls[part] = self.calls.get(part, 0) + 1


class TimedTxn:
    """The ledger methods of a store transaction, each call timed."""

    def __init__(self, txn: SqliteTxn, clock: Clock) -> None:
        self._txn, self._clock = txn, clock

    def ledger_size(self) -> int:
        t = time.perf_counter()
        size = self._txn.ledger_size()
        self._clock.add("SQL: size", time.perf_counter() - t)
        return size

    def ledger_node(self, level: int, index: int) -> bytes:
        t = time.perf_counter()
        node = self._txn.ledger_node(level, index)
        self._clock.add("SQL: node lookups", time.perf_counter() - t)
        return node

    def ledger_append(
        self,
        index: int,
        leaf: bytes,
        audience: Audience,
        subjects: Sequence[str],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None:
        t = time.perf_counter()
        self._txn.ledger_append(index, leaf, audience, subjects, nodes)
        self._clock.add("SQL: leaf and node inserts", time.perf_counter() - t)

    def ledger_save_checkpoint(self, size: int, note: str) -> None:
        t = time.perf_counter()
        self._txn.ledger_save_checkpoint(size, note)
        self._clock.add("SQL: checkpoint row", time.perf_counter() - t)


def _timed(part: str, fn: Callable[..., Any], clock: Clock) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            clock.add(part, time.perf_counter() - t)

    return timed


@contextlib.contextmanager
def patched(module: Any, name: str, replacement: Any) -> Iterator[None]:
    """Replace a module global for the length of the block (bench-only; src is not changed)."""
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Time the leaf's canonical JSON and the checkpoint's signature inside ``Ledger.append``."""
    leaf = _timed("canonical JSON (rfc8785)", deconflict.ledger.leaf_bytes, clock)
    sign = _timed("sign checkpoint (Ed25519)", deconflict.notes.sign_note, clock)
    with (
        patched(deconflict.ledger, "leaf_bytes", leaf),
        patched(deconflict.notes, "sign_note", sign),
    ):
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
    part: str
    batch_us: float
    batch_share: float
    single_us: float
    single_share: float


def breakdown(batch: Clock, batch_leaves: int, single: Clock, single_leaves: int) -> list[Part]:
    parts = [p for p in batch.seconds if p != "total"]
    parts += [p for p in single.seconds if p not in parts and p != "total"]
    rows = []
    for p in parts:
        b, s = batch.seconds.get(p, 0.0), single.seconds.get(p, 0.0)
        rows.append(
            Part(
                p,
                b / batch_leaves * 1e6,
                b / batch.seconds["total"],
                s / single_leaves * 1e6,
                s / single.seconds["total"],
            )
        )
    rest_b = batch.seconds["total"] - sum(batch.seconds.get(p, 0.0) for p in parts)
    rest_s = single.seconds["total"] - sum(single.seconds.get(p, 0.0) for p in parts)
    rows.sort(key=lambda r: -r.batch_share)
    rows.append(
        Part(
            "other Python (hashes, salts, Receipt, loop)",
            rest_b / batch_leaves * 1e6,
            rest_b / batch.seconds["total"],
            rest_s / single_leaves * 1e6,
            rest_s / single.seconds["total"],
        )
    )
    rows.append(
        Part(
            "total",
            batch.seconds["total"] / batch_leaves * 1e6,
            1.0,
            single.seconds["total"] / single_leaves * 1e6,
            1.0,
        )
    )
    return rows


# the what-if: canonical JSON from the C encoder ------------------------------------------------
class _NotPlain(ValueError):
    """A value whose json.dumps form may differ from RFC 8785: leave it to rfc8785."""


def _es6_numbers(value: Any) -> Any:
    """``value`` with integral floats as ints; raises :class:`_NotPlain` for a float that Python
    and ECMAScript print differently (exponent forms, NaN, infinities) or a non-ASCII key
    (RFC 8785 sorts keys by UTF-16 code unit)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        if not 1e-4 <= abs(value) < 1e16:
            raise _NotPlain
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) and k.isascii() for k in value):
            raise _NotPlain
        return {k: _es6_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_es6_numbers(v) for v in value]
    return value


def fast_leaf_bytes(entry: Entry, salt: bytes) -> bytes:
    """What ``leaf_bytes`` returns, via the C JSON encoder where that gives the same bytes."""
    data = {
        "type": entry.type,
        "at": format_time(entry.at),
        "by": entry.by,
        "object": entry.object,
        "salt": b64(salt),
    }
    try:
        plain = _es6_numbers(data)
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()
    except (_NotPlain, UnicodeEncodeError):
        return rfc8785.dumps(data)


@dataclass
class Component:
    what: str
    n: int
    us: float
    note: str = ""


def components(pool: list[Entry], signer_name: str) -> tuple[list[Component], bool]:
    """Canonical JSON and signing on their own, real code against the candidate fixes."""
    salt = bytes(range(16))
    same = sum(deconflict.ledger.leaf_bytes(e, salt) == fast_leaf_bytes(e, salt) for e in pool)
    sizes = [len(deconflict.ledger.leaf_bytes(e, salt)) for e in pool]
    rows = []
    for what, fn in (
        ("leaf_bytes (rfc8785, as in src)", deconflict.ledger.leaf_bytes),
        ("json.dumps candidate (bench only)", fast_leaf_bytes),
    ):
        t = time.perf_counter()
        for e in pool:
            fn(e, salt)
        rows.append(Component(what, len(pool), (time.perf_counter() - t) / len(pool) * 1e6))
    rows[0].note = f"leaves of {statistics.fmean(sizes):,.0f} bytes on average"
    rows[1].note = f"same bytes on {same:,}/{len(pool):,} pooled entries"
    key = deconflict.notes.SignerKey.generate(signer_name)
    held = Ed25519PrivateKey.from_private_bytes(key.seed)
    body = deconflict.notes.Checkpoint(signer_name, 1_000_000, bytes(32)).body().encode()
    n = 2_000
    for what, call, note in (
        (
            "Checkpoint.sign (as in src)",
            lambda: deconflict.notes.Checkpoint(signer_name, 1_000_000, bytes(32)).sign(key),
            "rebuilds the private key and re-derives the public key and key id each time",
        ),
        ("Ed25519 sign with a held key", lambda: held.sign(body), "the signature alone"),
        ("SignerKey.verifier.key_id", lambda: key.verifier.key_id, "what sign_note adds"),
    ):
        t = time.perf_counter()
        for _ in range(n):
            call()
        rows.append(Component(what, n, (time.perf_counter() - t) / n * 1e6, note))
    return rows, same == len(pool)


# 1. appends -----------------------------------------------------------------------------------
@dataclass
class Rate:
    mode: str
    leaves: int
    seconds: float
    txns: int
    note: str = ""

    @property
    def per_s(self) -> float:
        return self.leaves / self.seconds

    @property
    def us(self) -> float:
        return self.seconds / self.leaves * 1e6


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
    p50, p99, _, _ = _ms(seconds)
    rate = Rate(
        "one entry per transaction", n, sum(seconds), n, f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    return rate, clock


def what_if(
    store: SqliteStore, ledger: Ledger, pool: list[Entry], batch: int, count: int
) -> list[Rate]:
    """Batches of the real code and of the json.dumps candidate, alternating."""
    spent = {"real": 0.0, "what-if": 0.0}
    for i in range(2 * count):
        mode = "real" if i % 2 == 0 else "what-if"
        entries = fresh(pool, i * batch, batch)
        replacement = fast_leaf_bytes if mode == "what-if" else deconflict.ledger.leaf_bytes
        with patched(deconflict.ledger, "leaf_bytes", replacement):
            t = time.perf_counter()
            with store.write() as txn:
                ledger.append(txn, entries)
            spent[mode] += time.perf_counter() - t
    real = Rate(
        "batches, real code", batch * count, spent["real"], count, "BASELINE of the what-if"
    )
    fast = Rate(
        "batches, json.dumps leaves",
        batch * count,
        spent["what-if"],
        count,
        f"WHAT-IF (bench only), alternating with the row above: "
        f"{spent['real'] / spent['what-if']:.2f}x",
    )
    return [real, fast]


# 2. proofs ------------------------------------------------------------------------------------
@dataclass
class ProofFigures:
    what: str
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    note: str = ""


def _proof_row(what: str, seconds: list[float], note: str = "") -> ProofFigures:
    return ProofFigures(what, len(seconds), *_ms(seconds), note=note)


def proofs(channel: Channel, size: int, n: int, rng: random.Random) -> list[ProofFigures]:
    indexes = [rng.randrange(size) for _ in range(n)]
    firsts = [rng.randrange(1, size) for _ in range(n)]
    rows = []
    with channel.store.read() as txn:
        lookup = txn.ledger_node
        if txn.ledger_size() != size:
            raise RuntimeError(f"the ledger has {txn.ledger_size()} leaves, not {size}")
        root = stored_root(lookup, size)
        gen, ver, hashes = [], [], 0
        for i in indexes:
            t = time.perf_counter()
            proof = stored_inclusion_proof(lookup, i, size)
            gen.append(time.perf_counter() - t)
            leaf = lookup(0, i)
            t = time.perf_counter()
            verify_inclusion(i, size, leaf, proof, root)
            ver.append(time.perf_counter() - t)
            hashes += len(proof)
        rows.append(
            _proof_row(
                "inclusion: stored_inclusion_proof",
                gen,
                f"{hashes / n:.1f} hashes; one read txn; all {n:,} verified",
            )
        )
        rows.append(_proof_row("inclusion: verify_inclusion", ver))
        gen, ver, hashes = [], [], 0
        for first in firsts:
            t = time.perf_counter()
            proof = stored_consistency_proof(lookup, first, size)
            gen.append(time.perf_counter() - t)
            first_root = stored_root(lookup, first)  # the client holds it: not timed
            t = time.perf_counter()
            verify_consistency(first, size, first_root, root, proof)
            ver.append(time.perf_counter() - t)
            hashes += len(proof)
        rows.append(
            _proof_row(
                "consistency: stored_consistency_proof",
                gen,
                f"{hashes / n:.1f} hashes; one read txn; all {n:,} verified",
            )
        )
        rows.append(_proof_row("consistency: verify_consistency", ver))
    seconds = []
    for i in indexes:
        t = time.perf_counter()
        channel.inclusion(i, size)
        seconds.append(time.perf_counter() - t)
    rows.append(_proof_row("inclusion: Channel.inclusion", seconds, "a read txn per call"))
    seconds = []
    for first in firsts:
        t = time.perf_counter()
        channel.consistency(first, size)
        seconds.append(time.perf_counter() - t)
    rows.append(_proof_row("consistency: Channel.consistency", seconds, "a read txn per call"))
    return rows


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
    workload: str
    mode: str
    n: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    per_s: float
    leaves: float
    conflicts: float
    vs_stub: float | None = None
    note: str = ""


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
    rows = []
    for mode in ("stub", "ledger"):
        s = seconds[mode]
        p50, p99, _, mean = _ms(s)
        rows.append(
            DeclareFigures(
                workload,
                mode,
                len(s),
                mean,
                p50,
                p99,
                len(s) / sum(s),
                (leaves if mode == "ledger" else 0) / len(s),
                conflicts[mode] / len(s),
            )
        )
    rows[0].note = "BASELINE: channel.ledger is a bench-only stub"
    rows[1].note = (
        f"{rows[1].mean_ms - rows[0].mean_ms:+.3f} ms per declaration; Ledger.append "
        f"{timed.seconds / rows[1].n * 1e3:.3f} ms of it"
    )
    for r in rows:
        r.vs_stub = r.mean_ms / rows[0].mean_ms
    return rows


# tables ---------------------------------------------------------------------------------------
def _rate_rows(rates: list[Rate], first: Rate) -> list[list[str]]:
    return [
        [
            r.mode,
            f"{r.leaves:,}",
            f"{r.txns:,}",
            f"{r.per_s:,.0f}",
            f"{r.us:,.1f}",
            f"{r.per_s / first.per_s:.2f}" if r.mode.startswith("fill ") else "",
            r.note,
        ]
        for r in rates
    ]


TABLES: dict[str, list[str]] = {
    "Appends": ["mode", "leaves", "txns", "appends/s", "µs/append", "vs first tenth", "note"],
    "Where an append's time goes": [
        "part",
        "batch µs/append",
        "batch share",
        "single µs/append",
        "single share",
    ],
    "Canonical JSON and signing alone": ["what", "n", "µs each", "note"],
    "Proofs": ["what", "n", "p50 ms", "p99 ms", "max ms", "mean ms", "note"],
    "Declarations with and without the ledger": [
        "workload",
        "mode",
        "n",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "decl/s",
        "leaves/decl",
        "conflicts/decl",
        "vs stub",
        "note",
    ],
}


def _cells(
    rates: list[Rate],
    parts: list[Part],
    comps: list[Component],
    proof_rows: list[ProofFigures],
    decl_rows: list[DeclareFigures],
) -> dict[str, list[list[str]]]:
    first = next(r for r in rates if r.mode.startswith("fill "))
    return {
        "Appends": _rate_rows(rates, first),
        "Where an append's time goes": [
            [
                p.part,
                f"{p.batch_us:,.1f}",
                f"{p.batch_share:.0%}",
                f"{p.single_us:,.1f}",
                f"{p.single_share:.0%}",
            ]
            for p in parts
        ],
        "Canonical JSON and signing alone": [
            [c.what, f"{c.n:,}", f"{c.us:,.1f}", c.note] for c in comps
        ],
        "Proofs": [
            [
                p.what,
                f"{p.n:,}",
                f"{p.p50_ms:.3f}",
                f"{p.p99_ms:.3f}",
                f"{p.max_ms:.3f}",
                f"{p.mean_ms:.3f}",
                p.note,
            ]
            for p in proof_rows
        ],
        "Declarations with and without the ledger": [
            [
                d.workload,
                d.mode,
                f"{d.n:,}",
                f"{d.mean_ms:.3f}",
                f"{d.p50_ms:.3f}",
                f"{d.p99_ms:.3f}",
                f"{d.per_s:,.0f}",
                f"{d.leaves:.2f}",
                f"{d.conflicts:.2f}",
                f"{d.vs_stub:.3f}x" if d.vs_stub is not None else "",
                d.note,
            ]
            for d in decl_rows
        ],
    }


def _left(col: str) -> bool:
    return col in ("mode", "note", "part", "what", "workload")


def _rich(title: str, rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for col in TABLES[title]:
        table.add_column(col, justify="left" if _left(col) else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _markdown(title: str, rows: list[list[str]]) -> str:
    cols = TABLES[title]
    lines = [
        f"#### {title}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" if _left(c) else "---:" for c in cols) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# the run --------------------------------------------------------------------------------------
def main(
    leaves: Annotated[int, typer.Option(help="Leaves to fill the ledger to.")] = 1_000_000,
    batch: Annotated[int, typer.Option(help="Entries per write transaction in the fill.")] = 1000,
    sample: Annotated[
        int, typer.Option(help="Batches timed part by part, and per what-if mode.")
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
    comps, equal = components(pool, ledger.origin)
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
    if equal:
        console.print(f"what-if: {sample} batches each, real code and json.dumps leaves")
        rates += what_if(store, ledger, pool, batch, sample)
    else:
        warnings.append("the json.dumps candidate differs from rfc8785 on the pool: no what-if")
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

    tables = _cells(rates, parts, comps, proof_rows, decl_rows)
    for title, rows in tables.items():
        console.print(_rich(title, rows))
    overall = rates[0]
    gen = [p for p in proof_rows if p.what.split(": ")[1].startswith("stored_")]
    aims = [
        f"appends/s in-process (fill, {batch:,} per txn): {overall.per_s:,.0f} "
        f"{'meets' if overall.per_s >= AIM_APPENDS_PER_S else 'MISSES'} the aim of "
        f"≥ {AIM_APPENDS_PER_S:,}",
        f"appends/s with one entry per transaction: {single_rate.per_s:,.0f}",
        "proof generation p99: "
        + ", ".join(f"{p.what.split(':')[0]} {p.p99_ms:.3f} ms" for p in gen)
        + (
            " (meets the aim of < 1 ms)"
            if all(p.p99_ms < AIM_PROOF_MS for p in gen)
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
        "appends": [asdict(r) | {"per_s": r.per_s} for r in rates],
        "breakdown": [asdict(p) for p in parts],
        "components": [asdict(c) for c in comps],
        "proofs": [asdict(p) for p in proof_rows],
        "declarations": [asdict(d) for d in decl_rows],
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
