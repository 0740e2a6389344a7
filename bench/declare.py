"""Declaring: latency and throughput of a new declaration, in-process and over HTTP.

Pre-loads a fresh data dir with active declarations over Syria and Iraq through
``Channel.declare`` (one call per declaration, exactly what the service writes), then, at each
size and on the same data, measures:

- ``in-process``: ``Channel.declare`` on the SqliteStore file: parse and validate, index query,
  exact test, writes, commit with ``synchronous=FULL``.
- ``check``: ``Channel.check`` (parse, index query, exact test; nothing written) on the baseline
  sample: the indexed counterpart of the baseline.
- ``brute force`` (the BASELINE): parse, then ``detect_pair`` against every stored active
  declaration, no index. Slow, so measured on a small sample; it must find the same conflicts as
  the index, which the script checks.
- ``http``: ``POST /v1/declarations`` to ``deconflict serve`` in its own process on 127.0.0.1,
  one keep-alive client, one request at a time.
- ``http xK``: K concurrent asyncio clients for a fixed time: sustained declarations per second.

Every figure is printed; ``vs brute`` is the baseline's p50 over the mode's p50, from the same run.
Run it with ``.venv/bin/python bench/declare.py --help``. The default run (10,000 and 100,000)
took 11 minutes on a 2-core machine, most of it pre-loading, and leaves a data dir of about 2 GB
behind; ``--quick`` is a smoke run of seconds. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import hashlib
import io
import json
import math
import os
import platform
import pstats
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pyproj
import shapely
import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

import deconflict
from deconflict.declarations import Declaration, from_json, parse_new
from deconflict.detection import Finding, detect, detect_pair
from deconflict.disclosure import Role
from deconflict.indexing import query_boxes
from deconflict.principals import Principal
from deconflict.rules import RuleSet
from deconflict.runtime import open_channel
from deconflict.service import Channel, new_id, utc_now
from deconflict.settings import Settings

console = Console()

AREA = (35.5, 29.0, 48.5, 37.5)
"""lon0, lat0, lon1, lat1: Syria and Iraq with some of their neighbours' border regions."""

HOTSPOTS = (
    (37.16, 36.20),  # Aleppo
    (36.63, 35.93),  # Idlib
    (36.72, 34.73),  # Homs
    (36.29, 33.51),  # Damascus
    (38.27, 34.56),  # Palmyra
    (39.01, 35.95),  # Raqqa
    (40.14, 35.33),  # Deir ez-Zor
    (40.92, 34.45),  # Abu Kamal
    (40.75, 36.50),  # Hasakah
    (38.63, 33.50),  # al-Tanf
    (43.13, 36.34),  # Mosul
    (43.68, 34.60),  # Tikrit
    (44.39, 35.47),  # Kirkuk
    (43.30, 33.42),  # Ramadi
    (44.36, 33.31),  # Baghdad
)
HOTSPOT_SHARE = 0.65
HOTSPOT_SIGMA_DEG = 0.4
"""About 40 km: most activity sits around towns and front lines, the rest anywhere."""

PARTIES = ("coalition", "russia", "turkey", "ngo")
OPERATORS = PARTIES[:3]
SITE_OWNER = PARTIES[3]
START = datetime(2017, 4, 6, tzinfo=UTC)
HORIZON_H = 72
"""Operations start within three days; protected sites are listed for all of them and beyond."""

KIND_MIX = (
    ("air_operation", 0.55),
    ("ground_operation", 0.15),
    ("strike", 0.18),
    ("protected_site", 0.12),
)


class Scenario:
    """Seeded source of realistic declaration bodies (``party``, JSON body)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0

    def _centre(self) -> tuple[float, float]:
        r = self.rng
        if r.random() < HOTSPOT_SHARE:
            lon, lat = r.choice(HOTSPOTS)
            lon, lat = r.gauss(lon, HOTSPOT_SIGMA_DEG), r.gauss(lat, HOTSPOT_SIGMA_DEG)
        else:
            lon, lat = r.uniform(AREA[0], AREA[2]), r.uniform(AREA[1], AREA[3])
        return min(max(lon, AREA[0]), AREA[2]), min(max(lat, AREA[1]), AREA[3])

    def _polygon(self, lon: float, lat: float, radius_km: float) -> dict[str, Any]:
        """A star-shaped (so simple) polygon of 5 to 8 vertices around (lon, lat)."""
        n = self.rng.randint(5, 8)
        ring = []
        for i in range(n):
            angle = 2.0 * math.pi * (i + self.rng.uniform(-0.3, 0.3)) / n
            r = radius_km * self.rng.uniform(0.6, 1.0)
            dlon = r * math.cos(angle) / (111.32 * math.cos(math.radians(lat)))
            ring.append([round(lon + dlon, 5), round(lat + r * math.sin(angle) / 110.57, 5)])
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    def _window(self, min_h: float, max_h: float) -> dict[str, str]:
        start = START + timedelta(minutes=5 * self.rng.randrange(HORIZON_H * 12))
        end = start + timedelta(minutes=round(self.rng.uniform(min_h, max_h) * 60))
        return {"start": _rfc3339(start), "end": _rfc3339(end)}

    def _air_band(self) -> dict[str, Any]:
        r = self.rng
        reference = "W84" if r.random() < 0.15 else "AMSL"
        if r.random() < 0.5:
            lower = 1000 * r.randint(5, 25)
            return {
                "lower": lower,
                "upper": lower + 1000 * r.randint(2, 10),
                "units": "ft",
                "reference": reference,
            }
        lower = 500 * r.randint(3, 15)
        return {
            "lower": lower,
            "upper": lower + 500 * r.randint(1, 6),
            "units": "m",
            "reference": reference,
        }

    def next(self) -> tuple[str, dict[str, Any]]:
        r = self.rng
        self.count += 1
        kind = r.choices([k for k, _ in KIND_MIX], [w for _, w in KIND_MIX])[0]
        lon, lat = self._centre()
        party = r.choice(OPERATORS)
        ground = {"lower": 0, "upper": 1500, "units": "m", "reference": "AMSL"}
        body: dict[str, Any] = {"kind": kind, "title": f"{kind} {self.count}", "state": "active"}
        if kind == "air_operation":
            if r.random() < 0.65:
                volume = {"geometry": _point(lon, lat), "buffer_m": r.randint(2, 20) * 1000}
            else:
                volume = {"geometry": self._polygon(lon, lat, r.uniform(5.0, 20.0))}
            volume |= {"altitude": self._air_band(), "time": self._window(1.0, 6.0)}
            body["callsign"] = f"{party[:3].upper()}{self.count % 1000:03d}"
        elif kind == "ground_operation":
            volume = {
                "geometry": self._polygon(lon, lat, r.uniform(2.0, 8.0)),
                "altitude": ground,
                "time": self._window(6.0, 48.0),
            }
        elif kind == "strike":
            top = r.choice((3000, 12000))
            volume = {
                "geometry": _point(lon, lat),
                "buffer_m": r.randint(5, 50) * 100,
                "altitude": {"lower": 0, "upper": top, "units": "m", "reference": "AMSL"},
                "time": self._window(0.25, 1.0),
            }
        else:
            party = SITE_OWNER
            listed = {
                "start": _rfc3339(START - timedelta(days=1)),
                "end": _rfc3339(START + timedelta(hours=HORIZON_H, days=7)),
            }
            volume = {
                "geometry": _point(lon, lat),
                "buffer_m": r.randint(10, 30) * 10,
                "altitude": ground,
                "time": listed,
            }
            body |= {
                "released_to": list(OPERATORS),
                "site_type": r.choice(("hospital", "school", "shelter", "camp")),
                "verification": r.choice(("verified", "unverified")),
            }
        body["volumes"] = [volume]
        return party, body


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# figures ------------------------------------------------------------------------------------
@dataclass
class Figures:
    size: int
    mode: str
    n: int
    p50_ms: float
    p99_ms: float
    per_s: float
    conflicts: float
    conflicted: float
    """Share of the declarations with at least one conflict."""
    times_brute: float | None = None
    note: str = ""


def figures(
    size: int, mode: str, seconds: list[float], wall_s: float, conflicts: list[int], note: str = ""
) -> Figures:
    ms = sorted(s * 1e3 for s in seconds)
    p99 = ms[-1] if len(ms) < 100 else statistics.quantiles(ms, n=100, method="inclusive")[98]
    return Figures(
        size,
        mode,
        len(ms),
        statistics.median(ms),
        p99,
        len(ms) / wall_s,
        statistics.fmean(conflicts),
        sum(1 for c in conflicts if c) / len(conflicts),
        note=note,
    )


def source() -> str:
    """A digest of the package's code as it is on disk now: the tree is shared and edited while
    benchmarks run, and a server process started later imports whatever is there then."""
    root = Path(deconflict.__file__).parent
    files = sorted(root.rglob("*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    newest = datetime.fromtimestamp(max(f.stat().st_mtime for f in files), UTC)
    when = f"{newest:%Y-%m-%d %H:%M:%S} UTC"
    return f"sha256 {digest.hexdigest()[:16]} of {len(files)} files, newest {when}"


def machine(out: Path) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    mem = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as f:
        kib = next((int(ln.split()[1]) for ln in f if ln.startswith("MemTotal")), 0)
        mem = f"{kib / 2**20:.0f} GiB"
    fs = "unknown"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as f:
        mounts = [ln.split() for ln in f]
        best = max(
            (m for m in mounts if str(out.resolve()).startswith(m[1])),
            key=lambda m: len(m[1]),
            default=None,
        )
        fs = f"{best[2]} on {best[1]} ({best[0]})" if best else fs
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "geos / proj": f"{shapely.geos_version_string} / {pyproj.proj_version_str}",
        "data dir": f"{out} [{fs}]",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "source": source(),
    }


# in-process modes ---------------------------------------------------------------------------
def preload(
    channel: Channel,
    officers: dict[str, Principal],
    scenario: Scenario,
    stored: list[Declaration],
    target: int,
) -> None:
    count = target - len(stored)
    if count <= 0:
        return
    conflicts = conflicted = 0
    start = time.perf_counter()
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"pre-loading to {target:,}", total=count)
        for i in range(count):
            party, body = scenario.next()
            outcome = channel.declare(officers[party], body)
            stored.append(outcome.declaration)
            conflicts += len(outcome.conflicts)
            conflicted += bool(outcome.conflicts)
            bar.advance(task)
            if not console.is_terminal and (i + 1) % max(count // 20, 1) == 0:
                console.print(f"  {i + 1:,}/{count:,} in {time.perf_counter() - start:,.0f} s")
    took = time.perf_counter() - start
    console.print(
        f"pre-loaded {count:,} declarations (to {target:,}) through Channel.declare in "
        f"{took:,.1f} s: {count / took:,.0f}/s, {took / count * 1e3:.2f} ms each, "
        f"{conflicts / count:.2f} conflicts each, {conflicted / count:.0%} with one or more"
    )


def in_process(
    size: int,
    channel: Channel,
    officers: dict[str, Principal],
    scenario: Scenario,
    stored: list[Declaration],
    n: int,
) -> Figures:
    seconds, conflicts = [], []
    bodies = [scenario.next() for _ in range(n)]
    wall = time.perf_counter()
    for party, body in bodies:
        t = time.perf_counter()
        outcome = channel.declare(officers[party], body)
        seconds.append(time.perf_counter() - t)
        stored.append(outcome.declaration)
        conflicts.append(len(outcome.conflicts))
    return figures(size, "in-process", seconds, time.perf_counter() - wall, conflicts)


def brute_force(
    rules: RuleSet, stored: list[Declaration], party: str, body: Any
) -> tuple[Declaration, list[Finding]]:
    """The baseline: the exact test against every stored active declaration, no index."""
    decl = parse_new(body, id=new_id("dcl"), party=party, now=utc_now())
    found = [f for other in stored if other.detectable and (f := detect_pair(decl, other, rules))]
    return decl, found


def _others(decl: Declaration, findings: list[Finding]) -> set[str]:
    return {f.b.id if f.a.id == decl.id else f.a.id for f in findings}


def baseline(
    size: int,
    channel: Channel,
    officers: dict[str, Principal],
    scenario: Scenario,
    stored: list[Declaration],
    n: int,
) -> tuple[Figures, Figures]:
    """Brute force and the indexed dry run on the same sample; they must find the same."""
    sample = [scenario.next() for _ in range(n)]
    brute_s, brute_c, check_s, check_c = [], [], [], []
    disagree = 0
    for party, body in sample:
        t = time.perf_counter()
        decl, found = brute_force(channel.rules, stored, party, body)
        brute_s.append(time.perf_counter() - t)
        brute_c.append(len(found))
        with channel.store.read() as txn:
            candidates = txn.candidates(query_boxes(decl, channel.rules))
        indexed = detect(decl, candidates, channel.rules)
        disagree += _others(decl, indexed) != _others(decl, found)
    wall = time.perf_counter()
    for party, body in sample:
        t = time.perf_counter()
        check_c.append(len(channel.check(officers[party], body)))
        check_s.append(time.perf_counter() - t)
    wall = time.perf_counter() - wall
    agree = f"index agrees {n - disagree}/{n}"
    if disagree or check_c != brute_c:
        console.print(f"[red]MISMATCH: {agree}; counts {check_c} vs {brute_c}[/red]")
    return (
        figures(size, "brute force", brute_s, sum(brute_s), brute_c, f"BASELINE; {agree}"),
        figures(size, "check", check_s, wall, check_c, "same sample, no write"),
    )


def profile(
    channel: Channel,
    officers: dict[str, Principal],
    scenario: Scenario,
    stored: list[Declaration],
    n: int,
    path: Path,
) -> None:
    bodies = [scenario.next() for _ in range(n)]
    prof = cProfile.Profile()
    prof.enable()
    for party, body in bodies:
        stored.append(channel.declare(officers[party], body).declaration)
    prof.disable()
    prof.dump_stats(path)
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(prof, stream=text).strip_dirs().sort_stats(key).print_stats(15)
        console.print(f"[bold]profile of {n} in-process declares, by {key}[/bold] ({path})")
        console.print(text.getvalue().split("\n\n", 2)[-1].rstrip(), markup=False, highlight=False)


# HTTP modes ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(
    data_dir: Path, log: Path, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """``deconflict serve`` on the data dir, as an operator would start it (with ``extra``
    arguments and ``env`` added to the environment)."""
    port = _free_port()
    exe = Path(sys.executable).with_name("deconflict")
    cmd = [str(exe), "serve", "--data-dir", str(data_dir), "--port", str(port), *extra]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ | (env or {})
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _encode(party: str, body: Any, tokens: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {tokens[party]}", "Content-Type": "application/json"}
    return json.dumps(body).encode(), headers


def http_sequential(
    size: int,
    base: str,
    tokens: dict[str, str],
    scenario: Scenario,
    created: list[dict[str, Any]],
    n: int,
    warmup: int,
) -> tuple[Figures, Figures]:
    """Warm the new server's declaration cache with dry runs, then declare one at a time."""
    requests = [_encode(*scenario.next(), tokens) for _ in range(warmup + n)]
    seconds, conflicts = [], []
    with httpx.Client(base_url=base, timeout=120) as client:
        wall = time.perf_counter()
        for content, headers in requests[:warmup]:
            t = time.perf_counter()
            r = client.post("/v1/check", content=content, headers=headers)
            seconds.append(time.perf_counter() - t)
            r.raise_for_status()
            conflicts.append(len(r.json()["conflicts"]))
        warm = figures(
            size,
            "http warm-up",
            seconds,
            time.perf_counter() - wall,
            conflicts,
            "dry runs to a new server process",
        )
        seconds, conflicts = [], []
        wall = time.perf_counter()
        for content, headers in requests[warmup:]:
            t = time.perf_counter()
            r = client.post("/v1/declarations", content=content, headers=headers)
            seconds.append(time.perf_counter() - t)
            if r.status_code != 201:
                raise RuntimeError(f"{r.status_code}: {r.text}")
            answer = r.json()
            created.append(answer["declaration"])
            conflicts.append(len(answer["conflicts"]))
        wall = time.perf_counter() - wall
    return warm, figures(size, "http", seconds, wall, conflicts)


async def _hammer(
    base: str,
    requests: list[tuple[bytes, dict[str, str]]],
    concurrency: int,
    seconds: float,
) -> tuple[list[float], list[int], list[dict[str, Any]], float]:
    latencies: list[float] = []
    conflicts: list[int] = []
    created: list[dict[str, Any]] = []
    pending = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = time.perf_counter()
        stop = start + seconds

        async def worker() -> None:
            for content, headers in pending:
                if time.perf_counter() >= stop:
                    return
                t = time.perf_counter()
                r = await client.post("/v1/declarations", content=content, headers=headers)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 201:
                    raise RuntimeError(f"{r.status_code}: {r.text}")
                answer = r.json()
                created.append(answer["declaration"])
                conflicts.append(len(answer["conflicts"]))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, conflicts, created, time.perf_counter() - start


def http_concurrent(
    size: int,
    base: str,
    pid: int,
    tokens: dict[str, str],
    scenario: Scenario,
    created: list[dict[str, Any]],
    concurrency: int,
    seconds: float,
) -> Figures:
    """As many declarations as ``concurrency`` clients get done in ``seconds``."""
    requests = [_encode(*scenario.next(), tokens) for _ in range(int(seconds * 3000))]
    server_cpu, client_cpu = _cpu_s(pid), time.process_time()
    latencies, conflicts, made, wall = asyncio.run(_hammer(base, requests, concurrency, seconds))
    server_cpu, client_cpu = _cpu_s(pid) - server_cpu, time.process_time() - client_cpu
    created.extend(made)
    note = (
        f"{wall:.1f} s; CPU server {server_cpu / wall:.0%}, client {client_cpu / wall:.0%}"
        f"{'; ran out of bodies' if len(made) == len(requests) else ''}"
    )
    return figures(size, f"http x{concurrency}", latencies, wall, conflicts, note)


# the run ------------------------------------------------------------------------------------
def _open(data_dir: Path) -> Channel:
    return open_channel(Settings(data_dir=data_dir))


def _same_source(at_start: str, warnings: list[str]) -> None:
    now = source()
    warning = f"the source changed during the run: now {now}; figures mix versions"
    if now.split(" of ")[0] != at_start.split(" of ", maxsplit=1)[0] and warning not in warnings:
        warnings.append(warning)
        console.print(f"[red]{warning}[/red]")


def _ratio(f: Figures) -> str:
    if f.times_brute is None:
        return ""
    return f"{f.times_brute:,.0f}x" if f.times_brute >= 10 else f"{f.times_brute:.1f}x"


def _table(rows: list[Figures]) -> Table:
    table = Table(title="Declaring")
    for col in (
        "size",
        "mode",
        "n",
        "p50 ms",
        "p99 ms",
        "decl/s",
        "conflicts/decl",
        "with conflict",
        "vs brute",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("mode", "note") else "right")
    for f in rows:
        table.add_row(
            f"{f.size:,}",
            f.mode,
            f"{f.n:,}",
            f"{f.p50_ms:,.2f}",
            f"{f.p99_ms:,.2f}",
            f"{f.per_s:,.1f}",
            f"{f.conflicts:.2f}",
            f"{f.conflicted:.0%}",
            _ratio(f),
            f.note,
        )
    return table


def _markdown(rows: list[Figures]) -> str:
    lines = [
        "| active | mode | n | p50 ms | p99 ms | decl/s | conflicts/decl | with conflict | vs brute"
        " | note |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for f in rows:
        ratio = _ratio(f)
        lines.append(
            f"| {f.size:,} | {f.mode} | {f.n:,} | {f.p50_ms:,.2f} | {f.p99_ms:,.2f} | "
            f"{f.per_s:,.1f} | {f.conflicts:.2f} | {f.conflicted:.0%} | {ratio} | {f.note} |"
        )
    return "\n".join(lines)


def main(
    sizes: Annotated[str, typer.Option(help="Active declarations to measure at, ascending.")] = (
        "10000,100000"
    ),
    measure: Annotated[int, typer.Option(help="Declarations timed per sequential mode.")] = 500,
    brute: Annotated[int, typer.Option(help="Sample for the brute-force baseline.")] = 20,
    concurrency: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 8,
    sustain: Annotated[float, typer.Option(help="Seconds of concurrent HTTP load.")] = 20.0,
    warmup: Annotated[int, typer.Option(help="Dry runs sent to a new server first.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the scenario.")] = 2017,
    out: Annotated[Path | None, typer.Option(help="Fresh data dir (default: a temp dir).")] = None,
    quick: Annotated[bool, typer.Option(help="Small sizes and samples: a smoke run.")] = False,
    profile_last: Annotated[
        bool, typer.Option("--profile", help="cProfile extra in-process declares at the end.")
    ] = False,
) -> None:
    """Latency and throughput of declaring, in-process and over HTTP, against a brute-force
    baseline measured in the same run."""
    if quick:
        sizes, measure, brute, sustain, warmup = "500,2000", 50, 5, 3.0, 20
    targets = sorted(int(s) for s in sizes.split(","))
    out = Path(tempfile.mkdtemp(prefix="deconflict-bench-")) if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    if (out / "deconflict.db").exists():
        raise typer.BadParameter(f"{out} holds a database already; give a fresh --out")
    if not console.is_terminal:
        console.width = 160
    command = " ".join(["python", "bench/declare.py", *sys.argv[1:]])
    facts = machine(out)
    console.print(f"[bold]{command}[/bold]")
    for name, value in facts.items():
        console.print(f"  {name}: {value}", markup=False, highlight=False)

    # Two streams, so that the declarations measured at a size are the same in every run even
    # though how many the concurrent phase adds (and so how many to pre-load next) varies.
    scenario, probes = Scenario(seed), Scenario(seed + 1)
    channel = _open(out)
    officers, tokens = {}, {}
    for party in PARTIES:
        channel.add_party(party, party.title())
        officers[party], tokens[party] = channel.add_principal(party, "bench", Role.DUTY_OFFICER)
    stored: list[Declaration] = []
    rows: list[Figures] = []
    warnings: list[str] = []
    for size in targets:
        preload(channel, officers, scenario, stored, size)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        console.print(f"measuring at {len(stored):,} active declarations; load average {load}")
        step = [in_process(size, channel, officers, probes, stored, measure)]
        console.print(f"  in-process done; brute force on {brute} ({len(stored):,} each)")
        step[0:0] = baseline(size, channel, officers, probes, stored, brute)
        if profile_last and size == targets[-1]:
            profile(channel, officers, probes, stored, measure, out / f"declare-{size}.pstats")
        channel.store.close()
        _same_source(facts["source"], warnings)
        created: list[dict[str, Any]] = []
        with server(out, out / "server.log") as (base, pid):
            console.print(f"  HTTP: {base} (pid {pid}), warm-up {warmup}, then {measure}")
            step += http_sequential(size, base, tokens, probes, created, measure, warmup)
            console.print(f"  HTTP: {concurrency} clients for {sustain:g} s")
            step.append(
                http_concurrent(size, base, pid, tokens, probes, created, concurrency, sustain)
            )
        stored += [from_json(d) for d in created]
        channel = _open(out)
        with channel.store.read() as txn:
            if txn.count_declarations() != len(stored):
                raise RuntimeError(f"{txn.count_declarations()} stored, {len(stored)} expected")
        ref = step[0].p50_ms
        for f in step:
            f.times_brute = ref / f.p50_ms
        rows += step
        console.print(_table(step))
        console.print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    channel.store.close()
    _same_source(facts["source"], warnings)

    console.print(_table(rows))
    sys.stdout.write(_markdown(rows) + "\n")
    for warning in warnings:
        console.print(f"[red]WARNING: {warning}[/red]")
    result = {
        "command": command,
        "machine": facts,
        "figures": [asdict(f) for f in rows],
        "warnings": warnings,
    }
    (out / "declare.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"figures in {out / 'declare.json'}; server log in {out / 'server.log'}")


def run() -> None:
    typer.run(main)


if __name__ == "__main__":
    run()
