"""Replay: recorded traffic run through detection cycle by cycle, as the service would run it.

Reports come in the order they became known. Each cycle takes every aircraft's latest report no
older than the staleness limit, dead-reckons it to the cycle's moment
(:func:`deconflict.tracks.picture_at`), detects (:func:`deconflict.separation.detect`), turns the
detections into alerts (:func:`deconflict.track_alerts.pair_alerts`) and steps the open
encounters (:func:`deconflict.track_alerts.step`). So an encounter that lasts many cycles gives
one record when it opens, one per material revision and one when it closes.

Pure: reports in, cycles out. Reading files and writing results is :mod:`deconflict.replay_io`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deconflict.separation import Encounters, Separation, detect
from deconflict.track_alerts import Alert, ChangeKind, OpenEncounter, pair_alerts, step
from deconflict.tracks import Picture, Track, picture_at
from deconflict.volumes import format_time

__all__ = [
    "DEFAULT_GRACE_CYCLES",
    "DEFAULT_STALE_AFTER_S",
    "STEP_SAMPLE",
    "Cycle",
    "Prediction",
    "Record",
    "ReplayOptions",
    "Report",
    "Side",
    "choose_cycle",
    "data_step",
    "replay",
]

DEFAULT_STALE_AFTER_S = 30.0
"""A report older than this at a cycle's moment takes no part (the service's ``track_stale_s``)."""
DEFAULT_GRACE_CYCLES = 3
"""Cycles without a prediction before an encounter closes, unless a grace is given."""
STEP_SAMPLE = 6
"""Distinct report times whose gaps set the data's own time step."""
_TOLD = ("loss_at", "closest_at", "place", "altitude_band")


@dataclass(frozen=True, slots=True)
class Report:
    """One recorded report of one aircraft."""

    known_at: datetime
    """When the report became known: a replay uses it from the first cycle at or after this."""
    aircraft: tuple[str, ...]
    """The aircraft's identity across reports (OpenSky: its ICAO address; JSON: party and
    track id)."""
    track: Track
    callsign: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    separation: Separation
    cycle_s: float
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    grace_s: float | None = None
    """``None``: :data:`DEFAULT_GRACE_CYCLES` cycles."""

    def grace(self) -> timedelta:
        seconds = self.cycle_s * DEFAULT_GRACE_CYCLES if self.grace_s is None else self.grace_s
        return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Side:
    """One aircraft of an encounter: its report, and where dead reckoning put it at the
    prediction's moment."""

    report: Report
    lat_deg: float
    lon_deg: float
    altitude_m: float
    track_deg: float

    @property
    def track_id(self) -> str:
        return self.report.track.track_id

    @property
    def party(self) -> str:
        return self.report.track.party


@dataclass(frozen=True, slots=True)
class Prediction:
    """One cycle's prediction for one pair, ``a`` before ``b`` by (party, track id)."""

    at: datetime
    a: Side
    b: Side
    lost: bool
    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_m: float
    dz_m: float
    """Altitude of ``b`` less altitude of ``a`` at closest approach."""
    told: Mapping[str, Any]
    """What both parties are told of it: ``loss_at``, ``closest_at``, ``place``,
    ``altitude_band`` (:func:`deconflict.track_alerts.pair_alerts`)."""


@dataclass(frozen=True, slots=True)
class Record:
    """An encounter opened, revised or closed at a cycle. A closure carries the prediction its
    parties were last told."""

    change: ChangeKind
    encounter: str
    at: datetime
    opened_at: datetime
    prediction: Prediction

    def to_json(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "encounter": self.encounter,
            "change": str(self.change),
            "time": format_time(self.at),
            "opened_at": format_time(self.opened_at),
            "predicted_at": format_time(p.at),
            "a": p.a.track_id,
            "party_a": p.a.party,
            "callsign_a": p.a.report.callsign,
            "b": p.b.track_id,
            "party_b": p.b.party,
            "callsign_b": p.b.report.callsign,
            "lost": p.lost,
            "t_in_s": round(p.t_in_s, 3),
            "loss_at": p.told["loss_at"],
            "tcpa_s": round(p.tcpa_s, 3),
            "closest_at": p.told["closest_at"],
            "t_out_s": round(p.t_out_s, 3) if math.isfinite(p.t_out_s) else None,
            "dcpa_m": round(p.dcpa_m, 3),
            "dz_m": round(p.dz_m, 3),
            "place": dict(p.told["place"]),
            "altitude_band": dict(p.told["altitude_band"]),
        }


@dataclass(frozen=True, slots=True)
class Cycle:
    at: datetime
    aircraft: int
    """Aircraft in the picture (fresh reports)."""
    reports: int
    """Reports taken in so far."""
    open: int
    """Encounters open after the cycle."""
    records: tuple[Record, ...]


def data_step(times: Sequence[datetime]) -> float:
    """The data's own time step: the median gap between consecutive distinct times, rounded to
    whole seconds, at least 1 s (1 s for fewer than two distinct times).

    >>> from datetime import UTC
    >>> t = [datetime(2022, 6, 27, 10, 0, s, tzinfo=UTC) for s in (0, 0, 10, 20, 20, 31, 40)]
    >>> data_step(t)
    10.0
    """
    distinct = sorted(set(times))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(distinct)]
    if not gaps:
        return 1.0
    return max(1.0, float(round(statistics.median(gaps))))


def choose_cycle(
    reports: Iterable[Report], cycle_s: float | None
) -> tuple[float, Iterator[Report]]:
    """``cycle_s``, or the data's own step from its first :data:`STEP_SAMPLE` distinct report
    times; and the reports, still all there."""
    it = iter(reports)
    if cycle_s is not None:
        return cycle_s, it
    head: list[Report] = []
    seen: set[datetime] = set()
    for report in it:
        head.append(report)
        seen.add(report.known_at)
        if len(seen) >= STEP_SAMPLE:
            break
    return data_step(sorted(seen)), itertools.chain(head, it)


def _side(picture: Picture, live: Sequence[Report], row: int) -> Side:
    traffic = picture.traffic
    return Side(
        report=live[row],
        lat_deg=float(traffic.lat_deg[row]),
        lon_deg=float(traffic.lon_deg[row]),
        altitude_m=float(traffic.altitude_m[row]),
        track_deg=float(traffic.track_deg[row]),
    )


def _predictions(
    picture: Picture, live: Sequence[Report], found: Encounters, alerts: Sequence[Alert]
) -> dict[tuple[str, ...], Prediction]:
    """Each alert's prediction; :func:`pair_alerts` gives one alert per detection, in order."""
    out = {}
    for k, alert in enumerate(alerts):
        a, b = _side(picture, live, int(found.a[k])), _side(picture, live, int(found.b[k]))
        dz = float(found.dz_m[k])
        if (a.party, a.track_id) > (b.party, b.track_id):
            a, b, dz = b, a, -dz
        view = alert.views[a.party]
        out[alert.key] = Prediction(
            at=picture.at,
            a=a,
            b=b,
            lost=alert.lost,
            t_in_s=float(found.t_in_s[k]),
            t_out_s=float(found.t_out_s[k]),
            tcpa_s=float(found.tcpa_s[k]),
            dcpa_m=float(found.dcpa_m[k]),
            dz_m=dz,
            told={name: view[name] for name in _TOLD},
        )
    return out


def replay(reports: Iterable[Report], options: ReplayOptions) -> Iterator[Cycle]:
    """Every cycle from the first report's time, every ``options.cycle_s``, to the first cycle
    at or after the last report's; idle stretches (no fresh report, no open encounter) are
    skipped. ``reports`` must come in order of ``known_at`` (ValueError otherwise)."""
    it = iter(reports)
    pending = next(it, None)
    if pending is None:
        return
    cycle = timedelta(seconds=options.cycle_s)
    stale = timedelta(seconds=options.stale_after_s)
    grace = options.grace()
    separation = options.separation
    numbers = itertools.count(1)
    latest: dict[tuple[str, ...], Report] = {}
    open_: dict[tuple[str, ...], OpenEncounter] = {}
    told: dict[tuple[str, ...], Prediction] = {}
    taken = 0
    now = last_known = pending.known_at
    while True:
        while pending is not None and pending.known_at <= now:
            if pending.known_at < last_known:
                raise ValueError(f"report known at {pending.known_at} after one at {last_known}")
            last_known = pending.known_at
            held = latest.get(pending.aircraft)
            if held is None or pending.track.time >= held.track.time:
                latest[pending.aircraft] = pending
            taken += 1
            pending = next(it, None)
        for aircraft in [k for k, r in latest.items() if now - r.track.time > stale]:
            del latest[aircraft]
        live = list(latest.values())
        predictions: dict[tuple[str, ...], Prediction] = {}
        alerts: list[Alert] = []
        if len(live) >= 2:
            picture = picture_at([r.track for r in live], now)
            found = detect(picture.traffic, separation)
            alerts = pair_alerts(picture, found, separation)
            predictions = _predictions(picture, live, found, alerts)
        open_, changes = step(
            open_,
            alerts,
            now,
            grace=grace,
            horizontal_m=separation.horizontal_m,
            ids=lambda: f"E{next(numbers)}",
        )
        records = []
        for change in changes:
            key = change.encounter.alert.key
            if change.kind is ChangeKind.CLOSED:
                said = told.pop(key)
            else:
                said = told[key] = predictions[key]
            records.append(
                Record(change.kind, change.encounter.id, now, change.encounter.opened_at, said)
            )
        yield Cycle(now, len(live), taken, len(open_), tuple(records))
        if pending is None:
            return
        now += cycle
        if not latest and not open_ and pending.known_at > now:
            now += cycle * math.ceil((pending.known_at - now) / cycle)
