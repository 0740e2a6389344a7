"""Tactical detection: ``deconflict.separation.detect`` against BlueSky's, on identical traffic.

Each size gets seeded random traffic (:func:`scenario`) in a file, and each detector times cycles
on it in its own child process, so that its peak memory is its own and an out-of-memory ends only
that child: ``deconflict`` (``detect(traffic, Separation())``, this venv); ``BlueSky numpy``
(``StateBased.detect`` of ``bluesky.traffic.asas.statebased``, N x N matrices, called with
``self=None``: it reads nothing from ``self`` and an instance needs a running simulator); and
``BlueSky C++`` (``bluesky.traffic.asas.cstatebased.detect``, which BlueSky's ``CStateBased``
installs as its ``detect``). Both BlueSky variants run in the venv of ``bench/bluesky.lock`` on a
stand-in traffic object with exactly the attributes they read (``ntraf, id, lat, lon, trk, gs,
alt, vs``) and ``rpz`` 5 NM, ``hpz`` 1,000 ft, ``dtlookahead`` 300 s. Every aircraft is its own
party; BlueSky's (i, j) and (j, i) count as one pair.

A pair that only one side reports is explained: for the horizontal minimum, the vertical minimum
and the look-ahead in turn, each detector gives (on the two aircraft alone, by bisection, the other
two values nominal) the smallest value at which it reports the pair; the reason is the value whose
thresholds straddle the nominal one, and for a horizontal or look-ahead reason a referee
(:func:`geodesic_loss`) says whom straight flight on the ellipsoid agrees with. Figures:
docs/benchmarks.md, "Tactical detection (issue 5)". Run ``make bench-tracks``; ``--quick``: seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

Arrays = dict[str, npt.NDArray[Any]]
Pairs = npt.NDArray[np.int64]
Values = tuple[float, float, float]
HERE = Path(__file__).resolve().parent
BLUESKY_PYTHON = HERE.parent / ".venv-bluesky" / "bin" / "python"
DETECTORS = {"ours": "deconflict", "numpy": "BlueSky numpy", "cpp": "BlueSky C++"}

NOMINAL: Values = (5 * 1852.0, 1_000 * 0.3048, 300.0)
"""Horizontal minimum (m), vertical minimum (m), look-ahead (s): ``Separation()``'s defaults."""
UPPER = (3 * NOMINAL[0], 15_000.0, 3_600.0)
"""Bisection ceilings: a detector that does not report a pair even there has no threshold."""
PARAMETERS = ("horizontal", "vertical", "look-ahead")
MIN_CYCLES = 3
NUMPY_BYTES_PER_N2 = 230
"""BlueSky numpy's memory before it has run once: 5,435 MiB at N = 5,000 on 2026-11-22."""

# The scenario
DENSITY_PER_KM2 = 1 / 300
"""One aircraft per 300 km² at every size (a busy core area), so the region grows with N."""
EARTH_RADIUS_KM = 6_371.0
MID_LAT_DEG, HIGH_LAT_DEG, HIGH_SHARE = (40.0, 55.0), (70.0, 85.0), 0.10
CLIMB_SHARE = 0.20
"""Climbing or descending at 2.5-15 m/s (500-3,000 ft/min) from anywhere in ALT_M."""
FLIGHT_LEVEL_SHARE = 0.10
"""Level on a flight level, a multiple of 1,000 ft from FL050 to FL410; the rest level anywhere."""
ALT_M, GS_MPS = (500.0, 12_500.0), (80.0, 260.0)


def scenario(n: int, seed: int, flight_levels: float = FLIGHT_LEVEL_SHARE) -> Arrays:
    """``n`` aircraft at :data:`DENSITY_PER_KM2`: 90 % uniform over a band from 40° to 55° N and
    10 % over one from 70° to 85° N, each band from 0° E eastwards as far as the density needs;
    uniform track and ground speed; altitude uniform in ALT_M but for ``flight_levels``."""
    rng = np.random.default_rng([seed, n])
    high = rng.random(n) < HIGH_SHARE
    lat, lon = np.empty(n), np.empty(n)
    for rows, (south, north) in ((~high, MID_LAT_DEG), (high, HIGH_LAT_DEG)):
        k = int(rows.sum())
        s0, s1 = np.sin(np.radians(south)), np.sin(np.radians(north))
        width_rad = k / DENSITY_PER_KM2 / (EARTH_RADIUS_KM**2 * (s1 - s0))
        lat[rows] = np.degrees(np.arcsin(rng.uniform(s0, s1, k)))
        lon[rows] = rng.uniform(0.0, np.degrees(width_rad), k)
    kind = rng.choice(3, n, p=[1 - CLIMB_SHARE - flight_levels, flight_levels, CLIMB_SHARE])
    alt = rng.uniform(*ALT_M, n)
    alt[kind == 1] = rng.integers(5, 42, int((kind == 1).sum())) * 1_000 * 0.3048
    vs = np.where(kind == 2, rng.uniform(2.5, 15.0, n) * rng.choice([-1.0, 1.0], n), 0.0)
    lon = (lon + 180.0) % 360.0 - 180.0
    gs, trk = rng.uniform(*GS_MPS, n), rng.uniform(0.0, 360.0, n)
    return {"lat": lat, "lon": lon, "alt": alt, "gs": gs, "trk": trk, "vs": vs}


# The detectors, each imported only in the child that runs it ---------------------------------
Detector = Callable[[Arrays, Values], Pairs]
"""Traffic and (horizontal, vertical, look-ahead) to the pairs reported, ``(k, 2)``."""


def ours() -> Detector:
    from deconflict.separation import Separation, Traffic, detect  # noqa: PLC0415

    assert Separation() == Separation(*NOMINAL), "NOMINAL must be Separation()'s defaults"

    def run(t: Arrays, values: Values) -> Pairs:
        n = len(t["lat"])
        traffic = Traffic(np.arange(n), t["lat"], t["lon"], t["alt"], t["gs"], t["trk"], t["vs"])
        found = detect(traffic, Separation(*values))
        return np.stack([found.a, found.b], axis=1)

    return run


def bluesky(variant: str) -> Detector:
    with contextlib.redirect_stdout(io.StringIO()):  # its imports print banners
        from bluesky.traffic.asas import cstatebased  # noqa: PLC0415
        from bluesky.traffic.asas.statebased import StateBased  # noqa: PLC0415

    def run(t: Arrays, values: Values) -> Pairs:
        n = len(t["lat"])
        own = SimpleNamespace(ntraf=n, id=list(range(n)), **t)
        rpz, hpz, look = (np.full(n, v) for v in values)
        if variant == "numpy":
            found = StateBased.detect(None, own, own, rpz, hpz, look)
        else:
            found = cstatebased.detect(own, own, rpz, hpz, look)
        return np.array(found[0], np.int64).reshape(-1, 2)  # (i, j), and usually (j, i)

    return run


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> None:
    """In a child: time cycles of one detector, or find its thresholds for given pairs."""
    limit = int(float(args.limit_gib) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # a MemoryError, not the OOM killer
    t = dict(np.load(args.traffic))
    run = ours() if args.child == "ours" else bluesky(args.child)
    out: dict[str, Any] = {"base_mib": maxrss_mib()}
    try:
        if args.pairs:
            pairs = np.load(args.pairs)
            out["thresholds"] = np.array(
                [[threshold(run, t, p, k) for k in range(3)] for p in pairs]
            )
            out["alone"] = np.array([reported(run, t, p, NOMINAL) for p in pairs])
        else:
            found = np.sort(run(t, NOMINAL), axis=1)  # the warm-up cycle gives the pairs
            out["pairs"], count = np.unique(found, axis=0, return_counts=True)
            out["one_way"] = np.sum(count == 1) if args.child != "ours" else 0
            seconds: list[float] = []
            start = time.perf_counter()
            while len(seconds) < args.cycles and (
                len(seconds) < MIN_CYCLES or time.perf_counter() - start < args.budget_s
            ):
                t0 = time.perf_counter()
                run(t, NOMINAL)
                seconds.append(time.perf_counter() - t0)
            out["seconds"] = np.array(seconds)
    except MemoryError:
        out["error"] = np.array(f"MemoryError at an address-space limit of {args.limit_gib} GiB")
    out["peak_mib"] = maxrss_mib()
    np.savez(args.result, **out)


def reported(run: Detector, t: Arrays, pair: Pairs, values: Values) -> bool:
    """Whether ``run`` reports ``pair`` on the two aircraft alone."""
    return len(run({k: v[pair] for k, v in t.items()}, values)) > 0


def threshold(run: Detector, t: Arrays, pair: Pairs, k: int) -> float:
    """The smallest value of parameter ``k`` (the others nominal) at which ``run`` reports the
    pair: 0 if it does at 0, ``inf`` if not even at :data:`UPPER`."""

    def at(x: float) -> bool:
        values = list(NOMINAL)
        values[k] = x
        return reported(run, t, pair, (values[0], values[1], values[2]))

    lo, hi = 0.0, UPPER[k]
    if at(lo):
        return 0.0
    if not at(hi):
        return np.inf
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if at(mid) else (mid, hi)
    return hi


# The parent -----------------------------------------------------------------------------------
def spawn(name: str, files: dict[str, Path], args: argparse.Namespace, limit_gib: float) -> Arrays:
    python = sys.executable if name == "ours" else str(args.bluesky_python)
    cmd = [python, __file__, "--child", name, "--limit-gib", str(limit_gib)]
    cmd += [f"--{k}={v}" for k, v in files.items()]
    cmd += ["--cycles", str(args.cycles), "--budget-s", str(args.budget_s)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"error": np.array(f"exit {done.returncode}: {' | '.join(tail)}")}
    return dict(np.load(files["result"]))


def keys(pairs: Pairs, n: int) -> set[int]:
    return {int(x) for x in pairs[:, 0] * n + pairs[:, 1]}


def level_tie(t: Arrays, pair: Any) -> bool:
    """Both level and exactly the vertical minimum apart (flight levels)."""
    dz = abs(t["alt"][pair[0]] - t["alt"][pair[1]])
    return bool(abs(dz - NOMINAL[1]) < 1e-6 and t["vs"][pair[0]] == t["vs"][pair[1]] == 0.0)


def geodesic_loss(t: Arrays, pair: Pairs) -> bool:
    """The referee, straight flight on the ellipsoid: each aircraft along its WGS84 geodesic at its
    ground speed, altitude linear; a loss if within both minima (touching counts) at a moment of
    the look-ahead, searched on 0.5 s samples and then on 1 ms ones around the closest."""
    from pyproj import Geod  # noqa: PLC0415 (not in the BlueSky venv)

    h, v, look = NOMINAL[0] + 0.5, NOMINAL[1] + 1e-3, NOMINAL[2]
    dz0, dvz = np.diff(t["alt"][pair])[0], np.diff(t["vs"][pair])[0]
    if abs(dvz) < 1e-9:
        lo, hi = (0.0, look) if abs(dz0) <= v else (1.0, 0.0)
    else:
        ends = sorted(((-v - dz0) / dvz, (v - dz0) / dvz))
        lo, hi = max(ends[0], 0.0), min(ends[1], look)
    if lo > hi:
        return False
    geod = Geod(ellps="WGS84")

    def distances(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        at = [geod.fwd(*(np.full(s.size, t[k][i]) for k in ("lon", "lat", "trk")), t["gs"][i] * s)
              for i in pair]  # fmt: skip
        return np.asarray(geod.inv(at[0][0], at[0][1], at[1][0], at[1][1])[2])

    coarse = np.r_[np.arange(lo, hi, 0.5), hi]
    best = coarse[np.argmin(distances(coarse))]
    fine = np.r_[np.arange(max(lo, best - 0.5), min(hi, best + 0.5), 1e-3), min(hi, best + 0.5)]
    return bool(distances(fine).min() <= h)


def explain(t: Arrays, pair: Pairs, ours_reports: bool, ours_t: Any, theirs_t: Any) -> str:
    """Why one side reports ``pair`` and the other does not, from their thresholds."""
    # The value that, raised alone by the least (relatively), makes the other side report it.
    yes, no = (ours_t, theirs_t) if ours_reports else (theirs_t, ours_t)
    fixes = [k for k in range(3) if yes[k] <= NOMINAL[k] < no[k] < np.inf]
    if level_tie(t, pair) and (not fixes or 1 in fixes):  # BlueSky C++ needs |dz| < 1,000 ft
        return "level, exactly 1,000 ft apart" + ("" if fixes else ", and another edge")
    # Otherwise only the horizontal geometry differs; this is the edge that the pair is on.
    edge = PARAMETERS[min(fixes, key=lambda k: no[k] / NOMINAL[k])] if fixes else "no single"
    where = "high latitude" if np.mean(t["lat"][pair]) >= HIGH_LAT_DEG[0] else "mid latitude"
    gap = abs(theirs_t[0] - ours_t[0])
    size = "< 50 m" if gap < 50 else "50-500 m" if gap < 500 else "> 500 m" if gap < np.inf else "?"
    what = f"closest approach differs by {size}"
    if edge == "look-ahead":
        gap = abs(theirs_t[2] - ours_t[2])
        what = f"entry differs by {'< 2 s' if gap < 2 else '2-10 s' if gap < 10 else '> 10 s'}"
    referee = "deconflict" if geodesic_loss(t, pair) == ours_reports else "BlueSky"
    return f"{edge} edge, {where}, {what}; referee: {referee}"


def compare(
    t: Arrays, mine: Arrays, theirs: Arrays, name: str, tmp: Path, args: Any
) -> dict[str, Any]:
    n = len(t["lat"])
    a, b = keys(mine["pairs"], n), keys(theirs["pairs"], n)
    out: dict[str, Any] = {"same": len(a & b), "only ours": len(a - b), "only theirs": len(b - a)}
    if a == b:
        return out
    pairs = np.array([(k // n, k % n) for k in sorted(a - b) + sorted(b - a)], np.int64)
    np.save(tmp / "pairs.npy", pairs)
    files = {"traffic": tmp / f"traffic-{n}.npz", "pairs": tmp / "pairs.npy"}
    theirs_d = spawn(name, files | {"result": tmp / "d.npz"}, args, args.memory_limit_gib)
    ours_d = spawn("ours", files | {"result": tmp / "d-ours.npz"}, args, args.memory_limit_gib)
    reasons, details = Counter[str](), []
    for row, pair in enumerate(pairs):
        by_ours = row < len(a - b)  # else reported by theirs, in the full traffic
        why = explain(t, pair, by_ours, ours_d["thresholds"][row], theirs_d["thresholds"][row])
        for who, alone, full in (
            ("deconflict", ours_d["alone"][row], by_ours),
            (DETECTORS[name], theirs_d["alone"][row], not by_ours),
        ):
            if alone != full:  # the detector's answer depends on the other aircraft
                why = f"{who} reports it {'only' if alone else 'not'} on the two aircraft alone"
        reasons[why] += 1
        gaps = theirs_d["thresholds"][row] - ours_d["thresholds"][row]
        lat = float(np.mean(t["lat"][pair]))
        gap = dict(zip(PARAMETERS, gaps.tolist(), strict=True))
        details.append({"pair": pair.tolist(), "ours": by_ours, "lat": lat, "why": why, "gap": gap})
    return out | {"reasons": dict(reasons.most_common()), "details": details}


def summary(result: Arrays) -> dict[str, Any]:
    if "error" in result:
        return {"error": str(result["error"])}
    ms = sorted(float(s) * 1e3 for s in result["seconds"])
    return {
        "cycles": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": statistics.quantiles(ms, n=10, method="inclusive")[8],
        "peak_mib": float(result["peak_mib"]),
        "detect_mib": float(result["peak_mib"] - result["base_mib"]),
        "pairs": len(result["pairs"]),
        "one way": int(result["one_way"]),
    }


def describe(bluesky_python: Path) -> dict[str, str]:
    digest = hashlib.sha256()
    for name in ("separation.py", "track_grid.py", "units.py"):
        digest.update((HERE.parent / "src" / "deconflict" / name).read_bytes())
    code = "from importlib.metadata import version as v; print(v('bluesky-simulator'), v('numpy'))"
    theirs = subprocess.run(
        [bluesky_python, "-c", code], capture_output=True, text=True, check=False
    )
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "python / numpy": f"{sys.version.split()[0]} / {np.__version__}",
        "bluesky-simulator / its numpy": theirs.stdout.strip().replace(" ", " / ") or "missing",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "detector source": f"sha256 {digest.hexdigest()[:16]} of separation, track_grid, units",
    }


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": describe(args.bluesky_python), "runs": []}
    for key, value in report["machine"].items():
        print(f"  {key}: {value}")
    numpy_mib: tuple[float, int] | None = None  # detection MiB and N of the last numpy run
    for n in args.sizes + args.ours_only:
        t = scenario(n, args.seed, args.flight_level_share)
        np.savez(tmp / f"traffic-{n}.npz", **t)
        files = {"traffic": tmp / f"traffic-{n}.npz", "result": tmp / "result.npz"}
        results: dict[str, Arrays] = {}
        for name in ["ours"] if n in args.ours_only else ["ours", "cpp", "numpy"]:
            row: dict[str, Any] = {"n": n, "detector": name}
            mib, at_n = numpy_mib or (NUMPY_BYTES_PER_N2 * 1_000**2 / 2**20, 1_000)
            need = mib * (n / at_n) ** 2 / 1024
            if name == "numpy" and need > args.memory_limit_gib:
                row["skipped"] = (
                    f"needs about {need:.0f} GiB (N² from {mib:,.0f} MiB at N={at_n:,}), "
                    f"over --memory-limit-gib {args.memory_limit_gib:g}"
                )
            else:
                results[name] = spawn(name, files, args, args.memory_limit_gib + 4)
                row |= summary(results[name])
            if name == "numpy" and "detect_mib" in row:
                numpy_mib = (row["detect_mib"], n)
            if name != "ours" and "pairs" in row and "pairs" in results["ours"]:
                row["vs ours"] = row["median_ms"] / summary(results["ours"])["median_ms"]
                row |= compare(t, results["ours"], results[name], name, tmp, args)
            if name == "numpy" and "pairs" in row and "pairs" in results["cpp"]:
                a, b = keys(results["numpy"]["pairs"], n), keys(results["cpp"]["pairs"], n)
                ties = sum(level_tie(t, (k // n, k % n)) for k in a ^ b)
                row["numpy vs C++"] = f"only numpy {len(a - b)}, only C++ {len(b - a)}, "
                row["numpy vs C++"] += f"{ties} of them level ties"
            print(json.dumps({k: v for k, v in row.items() if k != "details"}), flush=True)
            report["runs"].append(row)
    return report


def table(report: dict[str, Any]) -> None:
    """The figures as the Markdown table of docs/benchmarks.md, then the reasons."""
    print("\n| N | detector | cycles | median ms | p90 ms | peak RSS MiB | detection MiB | pairs "
          "| same | only ours | only BlueSky | time vs ours |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in report["runs"]:
        head = f"| {r['n']:,} | {DETECTORS[r['detector']]} |"
        if "median_ms" not in r:
            print(head, f"{r.get('skipped') or r.get('error')} |" + " |" * 10)
            continue
        cells = [f"{r['cycles']}", f"{r['median_ms']:,.1f}", f"{r['p90_ms']:,.1f}"]
        cells += [f"{r['peak_mib']:,.0f}", f"{r['detect_mib']:,.0f}", f"{r['pairs']:,}"]
        cells += [f"{r[k]:,}" if k in r else "" for k in ("same", "only ours", "only theirs")]
        print(head, " | ".join([*cells, f"{r.get('vs ours', 1.0):,.1f}x"]), "|")
    for r in report["runs"]:
        name = f"N={r['n']:,} {DETECTORS[r['detector']]}"
        for reason, count in r.get("reasons", {}).items():
            print(f"{name}: {count:,} {reason}")
        for key in ("one way", "numpy vs C++"):
            if r.get(key) and r["detector"] != "ours":
                print(f"{name}: {key}: {r[key]}")


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=[1_000, 2_000, 5_000, 10_000])
    parser.add_argument("--ours-only", type=_sizes, default=[100_000], help="sizes for ours alone")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--flight-level-share", type=float, default=FLIGHT_LEVEL_SHARE)
    parser.add_argument("--cycles", type=int, default=9, help="timed cycles after a warm-up")
    parser.add_argument("--budget-s", type=float, default=30.0, help="no more cycles after this")
    parser.add_argument("--memory-limit-gib", type=float, default=12.0)
    parser.add_argument("--bluesky-python", type=Path, default=BLUESKY_PYTHON)
    parser.add_argument("--out", type=Path, help="keep the traffic and report.json here")
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    for hidden in ("--child", "--traffic", "--result", "--pairs", "--limit-gib"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.sizes, args.ours_only, args.cycles = [500, 1_000], [5_000], 3
    with contextlib.ExitStack() as stack:
        tmp = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        report = bench(args, tmp)
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str))
        table(report)


if __name__ == "__main__":
    main()
