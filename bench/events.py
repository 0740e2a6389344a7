"""Live events: how long a notification takes from the declaration that raised it to the screens
of its party, with 200 SSE clients connected to one server.

Starts ``deconflict serve`` in its own process on 127.0.0.1 over a fresh data dir with two
operating parties, ``coalition`` and ``russia``, and one principal per client, the clients split
evenly between them. One asyncio process (uvloop) holds every stream, on ``httpx``, and makes the
declarations: each round, coalition declares an air operation and russia one that overlaps it,
so each party is told of one new conflict and every client must receive a notification. A round
starts every ``--interval`` seconds. For each client and round the script takes the time from the
response to russia's declaration (and from just before it was sent) to the moment the client
read the notification's ``data`` line.

Modes, in this order on the same server: ``1 stream`` (the BASELINE: one client, so the delay
is the bell's wait plus one read and write), then ``N streams``, then ``1 stream`` again, to show
drift. ``vs 1 stream`` is a mode's p99 over the first baseline's p99. Figures go to
docs/benchmarks.md. ``--quick`` is a smoke run of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from declare import _cpu_s, _free_port, machine, source
from deconflict.disclosure import Role
from deconflict.runtime import open_channel
from deconflict.settings import Settings

console = Console()

PARTIES = ("coalition", "russia")
GRID_DEG = 0.25
"""Rounds are this far apart (about 25 km): only the two operations of a round conflict."""
WEST, SOUTH, COLUMNS = 35.5, 29.0, 52
CONFLICT_ID = re.compile(r'"conflict_id":"([^"]+)"')
PENDING = '"state":"pending"'
SETTLE_S = 10.0
"""How long after the last round a missing notification is waited for."""


def air_op(lon: float, lat: float, title: str) -> dict[str, Any]:
    return {
        "kind": "air_operation",
        "title": title,
        "volumes": [
            {
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "buffer_m": 2_000,
                "altitude": {"lower": 3_000, "upper": 6_000, "units": "m", "reference": "AMSL"},
                "time": {"start": "2017-04-06T18:00:00Z", "end": "2017-04-06T22:00:00Z"},
            }
        ],
    }


@dataclass
class Figures:
    mode: str
    streams: int
    rounds: int
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    send_p50_ms: float
    send_p99_ms: float
    missing: int
    server_cpu: float
    client_cpu: float
    vs_baseline: float | None = None
    note: str = ""


def _p99(ms: list[float]) -> float:
    return ms[-1] if len(ms) < 100 else statistics.quantiles(ms, n=100, method="inclusive")[98]


@dataclass
class Round:
    conflict_id: str
    sent: float
    answered: float
    received: dict[int, float] = field(default_factory=dict)


class Fleet:
    """Every client's stream on one event loop, and when each read each conflict."""

    def __init__(self, base: str, tokens: list[str]) -> None:
        self.base = base
        self.tokens = tokens
        self.rounds: dict[str, Round] = {}
        self.early: dict[str, dict[int, float]] = {}
        """receipts read before the declaration's response was (the event can win the race)"""
        self.ready = 0

    async def listen(self, client: httpx.AsyncClient, k: int) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[k]}"}
        async with client.stream("GET", "/v1/events", headers=headers) as r:
            r.raise_for_status()
            started = False
            async for line in r.aiter_lines():
                if not started:
                    started = True
                    self.ready += 1
                if line.startswith("data:") and PENDING in line:
                    now = time.perf_counter()
                    found = CONFLICT_ID.search(line)
                    if found is None:
                        continue
                    cid = found.group(1)
                    got = self.rounds.get(cid)
                    (got.received if got else self.early.setdefault(cid, {})).setdefault(k, now)

    def expected(self) -> int:
        return len(self.rounds) * len(self.tokens)

    def receipts(self) -> int:
        return sum(len(r.received) for r in self.rounds.values())


async def _declare(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> Any:
    r = await client.post(
        "/v1/declarations", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    r.raise_for_status()
    return r.json()


async def measure(
    mode: str,
    base: str,
    pid: int,
    clients: list[str],
    writers: dict[str, str],
    rounds: int,
    interval: float,
    spots: Iterator[tuple[float, float]],
) -> Figures:
    fleet = Fleet(base, clients)
    limits = httpx.Limits(max_connections=len(clients) + 8, max_keepalive_connections=8)
    timeout = httpx.Timeout(30.0, read=None)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as streams,
        httpx.AsyncClient(base_url=base, timeout=30.0) as writer,
    ):
        tasks = [asyncio.create_task(fleet.listen(streams, k)) for k in range(len(clients))]
        deadline = time.monotonic() + 60
        while fleet.ready < len(clients):
            if time.monotonic() > deadline or any(t.done() for t in tasks):
                raise RuntimeError(f"only {fleet.ready} of {len(clients)} streams opened")
            await asyncio.sleep(0.01)
        cpu0, wall0 = _cpu_s(pid), time.perf_counter()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for i in range(rounds):
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            lon, lat = next(spots)
            await _declare(writer, writers["coalition"], air_op(lon, lat, f"{mode} {i} CAP"))
            sent = time.perf_counter()
            out = await _declare(writer, writers["russia"], air_op(lon + 0.01, lat, f"{mode} {i}"))
            answered = time.perf_counter()
            (conflict,) = out["conflicts"]
            cid = conflict["id"]
            fleet.rounds[cid] = Round(cid, sent, answered, fleet.early.pop(cid, {}))
        settle = time.monotonic() + SETTLE_S
        while fleet.receipts() < fleet.expected() and time.monotonic() < settle:
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - wall0
        cpu = (_cpu_s(pid) - cpu0) / wall
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / wall
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    got = [(r, t) for r in fleet.rounds.values() for t in r.received.values()]
    answered_ms = sorted((t - r.answered) * 1e3 for r, t in got)
    sent_ms = sorted((t - r.sent) * 1e3 for r, t in got)
    early = sum(1 for x in answered_ms if x < 0)
    return Figures(
        mode,
        len(clients),
        rounds,
        len(answered_ms),
        statistics.median(answered_ms),
        _p99(answered_ms),
        answered_ms[-1],
        statistics.median(sent_ms),
        _p99(sent_ms),
        fleet.expected() - fleet.receipts(),
        cpu,
        client_cpu,
        note=f"{early:,} read before the response" if early else "",
    )  # fmt: skip


def grid() -> Iterator[tuple[float, float]]:
    k = 0
    while True:
        yield WEST + (k % COLUMNS) * GRID_DEG, SOUTH + (k // COLUMNS) * GRID_DEG
        k += 1


@contextlib.contextmanager
def server(data_dir: Path, log: Path, sets: list[str]) -> Iterator[tuple[str, int]]:
    """``deconflict serve`` on the data dir, as an operator would start it."""
    port = _free_port()
    exe = Path(sys.executable).with_name("deconflict")
    cmd = [str(exe), "serve", "--data-dir", str(data_dir), "--port", str(port)]
    cmd += [arg for s in sets for arg in ("--set", s)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
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


def _table(rows: list[Figures]) -> Table:
    table = Table(title="Live events: declaration to screen")
    cols = ("mode", "streams", "rounds", "n", "p50 ms", "p99 ms", "max ms", "from send p50 / p99",
            "missing", "vs 1 stream", "CPU server / client", "note")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col in ("mode", "note") else "right")
    for f in rows:
        table.add_row(*_cells(f))
    return table


def _cells(f: Figures) -> list[str]:
    return [
        f.mode,
        f"{f.streams:,}",
        f"{f.rounds:,}",
        f"{f.n:,}",
        f"{f.p50_ms:.1f}",
        f"{f.p99_ms:.1f}",
        f"{f.max_ms:.1f}",
        f"{f.send_p50_ms:.1f} / {f.send_p99_ms:.1f}",
        f"{f.missing:,}",
        "" if f.vs_baseline is None else f"{f.vs_baseline:.2f}x",
        f"{f.server_cpu:.0%} / {f.client_cpu:.0%}",
        f.note,
    ]


def _markdown(rows: list[Figures]) -> str:
    lines = [
        "| mode | streams | rounds | n | p50 ms | p99 ms | max ms | from send p50 / p99 ms"
        " | missing | vs 1 stream (p99) | CPU server / client | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(_cells(f)) + " |" for f in rows]
    return "\n".join(lines)


def main(
    clients: Annotated[int, typer.Option(help="Connected SSE clients in the fan-out mode.")] = 200,
    rounds: Annotated[int, typer.Option(help="Conflicts declared per mode.")] = 100,
    interval: Annotated[float, typer.Option(help="Seconds between the rounds' starts.")] = 0.2,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="A server setting, name=value.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Fresh data dir (default: a temp dir).")] = None,
    quick: Annotated[bool, typer.Option(help="20 clients, 10 rounds: a smoke run.")] = False,
) -> None:
    """Delay from a declaration to its notification on every connected screen, with a
    one-stream baseline measured on the same server in the same run."""
    if quick:
        clients, rounds = 20, 10
    out = Path(tempfile.mkdtemp(prefix="deconflict-events-")) if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    if (out / "deconflict.db").exists():
        raise typer.BadParameter(f"{out} holds a database already; give a fresh --out")
    if not console.is_terminal:
        console.width = 160
    command = " ".join(["python", "bench/events.py", *sys.argv[1:]])
    facts = machine(out)
    console.print(f"[bold]{command}[/bold]")
    for name, value in facts.items():
        console.print(f"  {name}: {value}", markup=False, highlight=False)

    channel = open_channel(Settings(data_dir=out))
    writers, screens = {}, []
    for party in PARTIES:
        channel.add_party(party, party.title())
        writers[party] = channel.add_principal(party, "writer", Role.DUTY_OFFICER)[1]
    for k in range(clients):
        party = PARTIES[k % len(PARTIES)]
        screens.append(channel.add_principal(party, f"screen {k}", Role.DUTY_OFFICER)[1])
    channel.store.close()

    spots = grid()
    modes = [
        ("1 stream", screens[:1]),
        (f"{clients} streams", screens),
        ("1 stream, again", screens[:1]),
    ]
    rows: list[Figures] = []
    with server(out, out / "server.log", sets or []) as (base, pid):
        for mode, tokens in modes:
            console.print(f"{mode}: {rounds} rounds, one every {interval:g} s")
            run = measure(mode, base, pid, tokens, writers, rounds, interval, spots)
            rows.append(_uvloop_run(run))
            console.print(_table(rows[-1:]))
    for f in rows:
        f.vs_baseline = f.p99_ms / rows[0].p99_ms
    rows[0].note = ("BASELINE; " + rows[0].note).rstrip("; ")
    now = source()
    warnings = []
    if now.split(" of ")[0] != facts["source"].split(" of ")[0]:
        warnings.append(f"the source changed during the run: now {now}")
    errors = (out / "server.log").read_text().count("Traceback")
    if errors:
        warnings.append(f"{errors} tracebacks in {out / 'server.log'}")
    console.print(_table(rows))
    sys.stdout.write(_markdown(rows) + "\n")
    for warning in warnings:
        console.print(f"[red]WARNING: {warning}[/red]")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"load average after: {load}")
    result = {
        "command": command,
        "machine": facts,
        "settings": sets or [],
        "figures": [asdict(f) for f in rows],
        "warnings": warnings,
        "load average after": load,
    }
    (out / "events.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"figures in {out / 'events.json'}; server log in {out / 'server.log'}")


def _uvloop_run(coro: Any) -> Figures:
    """Run on uvloop (as the server does) where it exists: the client's own overhead counts."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        result: Figures = asyncio.run(coro)
        return result
    figures: Figures = uvloop.run(coro)
    return figures


def run() -> None:
    typer.run(main)


if __name__ == "__main__":
    run()
