"""Track alerts: what detection predicts each cycle, and the encounters it opens, revises and
closes.

An *alert* is one cycle's prediction: two aircraft of different parties losing separation
(``separation``), an aircraft entering another party's air-defence zone or strike volume
(``zone_entry``), or an aircraft still inside a volume whose declaration has ended
(``conformance``). An *encounter* is an alert that lasts: it opens the first cycle it is
predicted, is revised only when what its parties are told changes materially (separation is now
lost, the closest approach moved by :data:`MOVED_S` or more, its distance by a quarter of the
minimum), and closes once it has not been predicted for the grace period. So one encounter is
one notification per party, not one per cycle.

Each party is shown only the encounter: its own aircraft, the other party, when, where and in
which altitude band; never the other party's track, speed or heading. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from deconflict.geodesy import GEOD
from deconflict.separation import Encounters, Separation
from deconflict.tracks import Picture
from deconflict.units import FT_M
from deconflict.volumes import format_time, parse_time

__all__ = [
    "MOVED_S",
    "Alert",
    "AlertKind",
    "Change",
    "ChangeKind",
    "OpenEncounter",
    "altitude_band",
    "encounter_from_json",
    "pair_alerts",
    "place",
    "step",
    "whole_second",
]

MOVED_S = 30.0
"""A predicted closest approach that moves by this much is told again."""
_BAND_STEP_M = 100 * FT_M
_PLACE_DECIMALS = 3  # about 100 m


class AlertKind(StrEnum):
    SEPARATION = "separation"
    ZONE_ENTRY = "zone_entry"
    CONFORMANCE = "conformance"


@dataclass(frozen=True, slots=True)
class Alert:
    """One cycle's prediction, keyed so that the same encounter has the same key each cycle."""

    key: tuple[str, ...]
    kind: AlertKind
    lost: bool
    """Separation is lost now (or the aircraft is inside the zone now)."""
    closest_at: datetime
    closest_distance_m: float
    views: Mapping[str, Mapping[str, Any]]
    """What each recipient party is shown (without id, state or times of the encounter)."""


class ChangeKind(StrEnum):
    OPENED = "opened"
    REVISED = "revised"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class OpenEncounter:
    id: str
    alert: Alert
    """The prediction its parties were last told."""
    opened_at: datetime
    seen_at: datetime
    """The last cycle that predicted it."""

    def to_json(self) -> dict[str, Any]:
        """As stored between cycles (never shown to a party as such)."""
        a = self.alert
        return {
            "id": self.id,
            "opened_at": format_time(self.opened_at),
            "seen_at": format_time(self.seen_at),
            "alert": {
                "key": list(a.key),
                "kind": str(a.kind),
                "lost": a.lost,
                "closest_at": format_time(a.closest_at),
                "closest_distance_m": a.closest_distance_m,
                "views": {party: dict(view) for party, view in a.views.items()},
            },
        }


def encounter_from_json(raw: Mapping[str, Any]) -> OpenEncounter:
    a = raw["alert"]
    alert = Alert(
        key=tuple(a["key"]),
        kind=AlertKind(a["kind"]),
        lost=bool(a["lost"]),
        closest_at=parse_time(a["closest_at"], ""),
        closest_distance_m=float(a["closest_distance_m"]),
        views=a["views"],
    )
    return OpenEncounter(
        raw["id"], alert, parse_time(raw["opened_at"], ""), parse_time(raw["seen_at"], "")
    )


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    encounter: OpenEncounter
    at: datetime

    def view(self, party: str) -> dict[str, Any]:
        """The notification body for ``party``."""
        enc = self.encounter
        state = (
            "over" if self.kind is ChangeKind.CLOSED else "lost" if enc.alert.lost else "predicted"
        )
        return {
            "id": enc.id,
            "kind": str(enc.alert.kind),
            "state": state,
            "opened_at": format_time(enc.opened_at),
            "updated_at": format_time(self.at),
            **enc.alert.views[party],
        }


def _material(old: Alert, new: Alert, horizontal_m: float) -> bool:
    # While separation stays lost, the closest approach is "now" each cycle: not news.
    moved = not (old.lost and new.lost) and (
        abs((new.closest_at - old.closest_at).total_seconds()) >= MOVED_S
    )
    nearer = abs(new.closest_distance_m - old.closest_distance_m) >= horizontal_m / 4
    return new.lost != old.lost or moved or nearer or set(new.views) != set(old.views)


def step(
    open_: Mapping[tuple[str, ...], OpenEncounter],
    alerts: Iterable[Alert],
    now: datetime,
    *,
    grace: timedelta,
    horizontal_m: float,
    ids: Callable[[], str],
) -> tuple[dict[tuple[str, ...], OpenEncounter], list[Change]]:
    """One cycle: the encounters open after it, and what changed for their parties."""
    after: dict[tuple[str, ...], OpenEncounter] = {}
    changes: list[Change] = []
    for alert in alerts:
        old = open_.get(alert.key)
        if old is None:
            enc = OpenEncounter(ids(), alert, opened_at=now, seen_at=now)
            changes.append(Change(ChangeKind.OPENED, enc, now))
        elif _material(old.alert, alert, horizontal_m):
            enc = replace(old, alert=alert, seen_at=now)
            changes.append(Change(ChangeKind.REVISED, enc, now))
        else:
            enc = replace(old, seen_at=now)
        after[alert.key] = enc
    for key, enc in open_.items():
        if key in after:
            continue
        if now - enc.seen_at >= grace:
            changes.append(Change(ChangeKind.CLOSED, enc, now))
        else:
            after[key] = enc
    return after, changes


def whole_second(t: datetime) -> datetime:
    """Times told to parties are whole seconds."""
    return t.replace(microsecond=0)


def altitude_band(lower_m: float, upper_m: float, reference: str) -> dict[str, Any]:
    """An altitude band as told to parties: rounded outwards to 100 ft steps.

    >>> altitude_band(3048.2, 3100.0, "AMSL")["upper"]
    3108.96
    """
    return {
        "lower": round(math.floor(lower_m / _BAND_STEP_M) * _BAND_STEP_M, 2),
        "upper": round(math.ceil(upper_m / _BAND_STEP_M) * _BAND_STEP_M, 2),
        "units": "m",
        "reference": reference,
    }


def place(lon: float, lat: float) -> dict[str, float]:
    """A place as told to parties: 3 decimals, about 100 m."""
    return {"lat": round(lat, _PLACE_DECIMALS), "lon": round(lon, _PLACE_DECIMALS)}


def pair_alerts(picture: Picture, found: Encounters, separation: Separation) -> list[Alert]:
    """The separation alerts of one cycle's detections."""
    if len(found) == 0:
        return []
    traffic = picture.traffic
    a, b, t = found.a, found.b, found.tcpa_s
    lon_a, lat_a, _ = GEOD.fwd(
        traffic.lon_deg[a],
        traffic.lat_deg[a],
        traffic.track_deg[a],
        traffic.ground_speed_mps[a] * t,
    )
    lon_b, lat_b, _ = GEOD.fwd(
        traffic.lon_deg[b],
        traffic.lat_deg[b],
        traffic.track_deg[b],
        traffic.ground_speed_mps[b] * t,
    )
    az, _, dist = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    lon_m, lat_m, _ = GEOD.fwd(lon_a, lat_a, az, np.asarray(dist) / 2)
    alt_a = traffic.altitude_m[a] + traffic.vertical_rate_mps[a] * t
    alt_b = traffic.altitude_m[b] + traffic.vertical_rate_mps[b] * t
    alerts = []
    for k in range(len(found)):
        ta, tb = picture.tracks[int(a[k])], picture.tracks[int(b[k])]
        first, second = sorted([ta, tb], key=lambda x: (x.party, x.track_id))
        closest_at = whole_second(picture.at + timedelta(seconds=float(t[k])))
        shared = {
            "loss_at": format_time(
                whole_second(picture.at + timedelta(seconds=float(found.t_in_s[k])))
            ),
            "closest_at": format_time(closest_at),
            "closest_distance_m": round(float(found.dcpa_m[k]), -1),
            "place": place(float(lon_m[k]), float(lat_m[k])),
            "altitude_band": altitude_band(
                float(min(alt_a[k], alt_b[k])),
                float(max(alt_a[k], alt_b[k])),
                ta.reference if ta.reference == tb.reference else "AMSL",
            ),
        }
        views = {
            own.party: {**shared, "own_track": own.track_id, "other_party": other.party}
            for own, other in ((ta, tb), (tb, ta))
        }
        alerts.append(
            Alert(
                key=("separation", first.party, first.track_id, second.party, second.track_id),
                kind=AlertKind.SEPARATION,
                lost=bool(found.t_in_s[k] <= 0.0),
                closest_at=closest_at,
                closest_distance_m=float(found.dcpa_m[k]),
                views=views,
            )
        )
    return alerts
