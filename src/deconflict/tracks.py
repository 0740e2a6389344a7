"""Tracks: a party's report of one of its own aircraft, and the traffic picture at a moment.

A track is the most sensitive thing a party sends: it is never shown to another party (only the
predicted encounter is, :mod:`deconflict.track_alerts`). Reports carry their own time; the picture
at a cycle's moment dead-reckons every fresh report to that moment along its geodesic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import numpy as np

from deconflict.errors import InvalidInput
from deconflict.geodesy import GEOD
from deconflict.separation import REFERENCE_CODES, Traffic
from deconflict.units import FT_M, AltitudeReference, AltitudeUnits, to_metres
from deconflict.volumes import (
    MAX_ALTITUDE_M,
    MIN_ALTITUDE_M,
    format_time,
    parse_number,
    parse_object,
    parse_time,
)

__all__ = [
    "KT_MPS",
    "MAX_GROUND_SPEED_MPS",
    "MAX_TRACK_ID_CHARS",
    "MAX_VERTICAL_RATE_MPS",
    "Picture",
    "Track",
    "parse_track",
    "picture_at",
]

KT_MPS = 1852.0 / 3600.0
"""One knot in metres per second."""
MAX_GROUND_SPEED_MPS = 2_000.0
MAX_VERTICAL_RATE_MPS = 500.0
MAX_TRACK_ID_CHARS = 64

_SPEED_UNITS = {"m/s": 1.0, "kt": KT_MPS, "km/h": 1 / 3.6}
_RATE_UNITS = {"m/s": 1.0, "ft/min": FT_M / 60.0}


@dataclass(frozen=True, slots=True)
class Track:
    party: str
    track_id: str
    """The reporting party's own name for the aircraft (unique within the party)."""
    time: datetime
    lat: float
    lon: float
    altitude_m: float
    reference: AltitudeReference
    ground_speed_mps: float
    track_deg: float
    """Track angle over the ground, degrees clockwise from true north, in [0, 360)."""
    vertical_rate_mps: float

    def to_json(self) -> dict[str, Any]:
        """The report as its own party reads it back (units normalised to m and m/s)."""
        return {
            "track_id": self.track_id,
            "time": format_time(self.time),
            "lat": self.lat,
            "lon": self.lon,
            "altitude": {"value": self.altitude_m, "units": "m", "reference": self.reference},
            "ground_speed": {"value": self.ground_speed_mps, "units": "m/s"},
            "track_deg": self.track_deg,
            "vertical_rate": {"value": self.vertical_rate_mps, "units": "m/s"},
        }


def _number(raw: Any, pointer: str, low: float, high: float, rule: str) -> float:
    value = parse_number(raw, pointer)
    if not low <= value <= high:
        raise InvalidInput.one(pointer, rule, f"expected a value between {low:g} and {high:g}")
    return value


def _measure(raw: Any, pointer: str, units: Mapping[str, float], limit: float, rule: str) -> float:
    obj = parse_object(raw, pointer, {"value", "units"}, {"value", "units"})
    factor = units.get(obj["units"]) if isinstance(obj["units"], str) else None
    if factor is None:
        names = ", ".join(f"'{u}'" for u in units)
        raise InvalidInput.one(f"{pointer}/units", f"{rule}_units", f"units is one of {names}")
    value = _number(obj["value"], f"{pointer}/value", -math.inf, math.inf, rule) * factor
    if not -limit <= value <= limit:
        raise InvalidInput.one(f"{pointer}/value", rule, f"at most {limit:g} m/s in magnitude")
    return value


def parse_track(raw: Any, party: str, pointer: str = "") -> Track:
    """Validate one report of the party's own aircraft."""
    fields = {
        "track_id",
        "time",
        "lat",
        "lon",
        "altitude",
        "ground_speed",
        "track_deg",
        "vertical_rate",
    }
    obj = parse_object(raw, pointer, fields, fields)
    track_id = obj["track_id"]
    if not isinstance(track_id, str) or not 1 <= len(track_id) <= MAX_TRACK_ID_CHARS:
        raise InvalidInput.one(
            f"{pointer}/track_id",
            "track_id",
            f"a track id is a string of 1 to {MAX_TRACK_ID_CHARS} characters",
        )
    alt = parse_object(
        obj["altitude"],
        f"{pointer}/altitude",
        {"value", "units", "reference"},
        {"value", "units", "reference"},
    )
    if alt["units"] not in get_args(AltitudeUnits):
        raise InvalidInput.one(
            f"{pointer}/altitude/units", "altitude_units", "units is 'm' or 'ft'"
        )
    if alt["reference"] not in get_args(AltitudeReference):
        raise InvalidInput.one(
            f"{pointer}/altitude/reference",
            "altitude_reference",
            "reference is 'W84' (ellipsoid) or 'AMSL'",
        )
    altitude_m = to_metres(
        _number(alt["value"], f"{pointer}/altitude/value", -math.inf, math.inf, "altitude_range"),
        alt["units"],
    )
    if not MIN_ALTITUDE_M <= altitude_m <= MAX_ALTITUDE_M:
        raise InvalidInput.one(
            f"{pointer}/altitude/value",
            "altitude_range",
            f"altitudes lie between {MIN_ALTITUDE_M:g} m and {MAX_ALTITUDE_M:g} m",
        )
    track_deg = _number(obj["track_deg"], f"{pointer}/track_deg", 0.0, 360.0, "track_range")
    if track_deg == 360.0:
        raise InvalidInput.one(f"{pointer}/track_deg", "track_range", "a track angle is below 360")
    speed = _measure(
        obj["ground_speed"], f"{pointer}/ground_speed", _SPEED_UNITS, MAX_GROUND_SPEED_MPS, "speed"
    )
    if speed < 0:
        raise InvalidInput.one(f"{pointer}/ground_speed/value", "speed", "a speed is not negative")
    return Track(
        party=party,
        track_id=track_id,
        time=parse_time(obj["time"], f"{pointer}/time"),
        lat=_number(obj["lat"], f"{pointer}/lat", -90.0, 90.0, "lat_range"),
        lon=_number(obj["lon"], f"{pointer}/lon", -180.0, 180.0, "lon_range"),
        altitude_m=altitude_m,
        reference=alt["reference"],
        ground_speed_mps=speed,
        track_deg=track_deg,
        vertical_rate_mps=_measure(
            obj["vertical_rate"],
            f"{pointer}/vertical_rate",
            _RATE_UNITS,
            MAX_VERTICAL_RATE_MPS,
            "vertical_rate",
        ),
    )


@dataclass(frozen=True, slots=True)
class Picture:
    """The traffic at one moment: row ``i`` of :attr:`traffic` is :attr:`tracks` ``[i]``
    dead-reckoned to :attr:`at`; :attr:`parties` decodes the party codes."""

    at: datetime
    tracks: tuple[Track, ...]
    traffic: Traffic
    parties: tuple[str, ...]


def picture_at(tracks: Sequence[Track], at: datetime) -> Picture:
    """Every report moved from its own time to ``at`` along its geodesic (backwards if it is
    later than ``at``), its altitude by its vertical rate."""
    n = len(tracks)
    parties = tuple(sorted({t.party for t in tracks}))
    code = {p: i for i, p in enumerate(parties)}
    dt = np.array([(at - t.time).total_seconds() for t in tracks], np.float64)
    lat = np.array([t.lat for t in tracks], np.float64)
    lon = np.array([t.lon for t in tracks], np.float64)
    speed = np.array([t.ground_speed_mps for t in tracks], np.float64)
    course = np.array([t.track_deg for t in tracks], np.float64)
    rate = np.array([t.vertical_rate_mps for t in tracks], np.float64)
    alt = np.array([t.altitude_m for t in tracks], np.float64)
    if n:
        lon2, lat2, back = GEOD.fwd(lon, lat, course, speed * dt)
        # pyproj's back azimuth is the course at the new position turned round, whichever way
        # (forwards or backwards in time) the report was moved.
        moved = speed * np.abs(dt) > 0
        course = np.where(moved, np.mod(np.asarray(back) + 180.0, 360.0), course)
        lat, lon = np.asarray(lat2, np.float64), np.asarray(lon2, np.float64)
    traffic = Traffic(
        party=np.array([code[t.party] for t in tracks], np.int64),
        lat_deg=lat,
        lon_deg=lon,
        altitude_m=alt + rate * dt,
        ground_speed_mps=speed,
        track_deg=course,
        vertical_rate_mps=rate,
        reference=np.array([REFERENCE_CODES[t.reference] for t in tracks], np.int8),
    )
    return Picture(at=at, tracks=tuple(tracks), traffic=traffic, parties=parties)
