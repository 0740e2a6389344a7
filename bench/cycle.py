"""The service's detection cycle: what one cycle costs with N tracks on a SQLite data dir, against
the detector alone on the same traffic (the BASELINE, same run).

Each size gets a fresh data dir with ten parties and N aircraft placed uniformly at one per
1,000 km² (a busy airspace) on a spherical cap, 50-250 m/s, 0-12 km, level or climbing and
descending, reported at one moment. The clock stands still, so every cycle sees the same
picture. ``first`` is the cycle that opens every encounter (notifications, events, ledger);
``steady`` is the median of the following cycles, which only confirm them; ``detector`` is
``separation.detect`` on the cycle's own picture. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from declare import machine
from deconflict.runtime import open_channel
from deconflict.separation import detect
from deconflict.settings import Settings
from deconflict.tracks import Track, picture_at

console = Console()
PARTIES = 10
DENSITY_M2 = 1_000e6
EARTH_RADIUS_M = 6_371_008.8
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def traffic(n: int, seed: int) -> list[Track]:
    rng = np.random.default_rng(seed)
    cos_cap = 1 - n * DENSITY_M2 / (2 * np.pi * EARTH_RADIUS_M**2)
    colat = np.degrees(np.arccos(rng.uniform(cos_cap, 1, n)))
    lon = rng.uniform(-180, 180, n)
    climb = rng.choice([0.0, 0.0, 0.0, -10.0, 10.0], n) * rng.uniform(0, 1, n)
    return [
        Track(
            party=f"p{i % PARTIES}",
            track_id=f"T{i}",
            time=NOW,
            lat=float(90 - colat[i]),
            lon=float(lon[i]),
            altitude_m=float(rng.uniform(0, 12_000)),
            reference="AMSL",
            ground_speed_mps=float(rng.uniform(50, 250)),
            track_deg=float(rng.uniform(0, 360)),
            vertical_rate_mps=float(climb[i]),
        )
        for i in range(n)
    ]


def run(n: int, cycles: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        channel = open_channel(Settings(data_dir=Path(tmp)))
        channel.surveillance._clock = lambda: NOW  # the clock stands still: same picture
        try:
            for p in range(PARTIES):
                channel.add_party(f"p{p}", f"Party {p}")
            tracks = traffic(n, seed=n)
            with channel.store.write() as txn:
                txn.save_tracks(tracks)
            start = time.perf_counter()
            first = channel.surveillance.cycle()
            first_s = time.perf_counter() - start
            steady = []
            for _ in range(cycles):
                start = time.perf_counter()
                channel.surveillance.cycle()
                steady.append(time.perf_counter() - start)
            picture = picture_at(tracks, NOW)
            alone = []
            for _ in range(cycles):
                start = time.perf_counter()
                detect(picture.traffic, channel.surveillance.policy.separation)
                alone.append(time.perf_counter() - start)
        finally:
            channel.store.close()
    return {
        "encounters": first.opened,
        "first_ms": first_s * 1e3,
        "steady_ms": statistics.median(steady) * 1e3,
        "detector_ms": statistics.median(alone) * 1e3,
    }


def main(
    sizes: Annotated[str, typer.Option(help="Comma-separated track counts.")] = "1000,10000,50000",
    cycles: Annotated[int, typer.Option(help="Steady cycles measured per size.")] = 10,
) -> None:
    facts = machine(Path(tempfile.gettempdir()))
    console.print("; ".join(f"{k}: {v}" for k, v in facts.items()))
    table = Table("tracks", "encounters", "first cycle", "steady cycle", "detector", "ratio")
    for n in (int(s) for s in sizes.split(",")):
        r = run(n, cycles)
        table.add_row(
            f"{n:,}",
            f"{r['encounters']:,.0f}",
            f"{r['first_ms']:.0f} ms",
            f"{r['steady_ms']:.0f} ms",
            f"{r['detector_ms']:.1f} ms",
            f"{r['steady_ms'] / r['detector_ms']:.1f}x",
        )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
