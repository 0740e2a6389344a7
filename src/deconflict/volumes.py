"""Volume4D: a footprint, an altitude band and a UTC time window.

JSON shape::

    {"geometry": <GeoJSON Polygon | MultiPolygon | Point | LineString>, "buffer_m": 500,
     "altitude": {"lower": 0, "upper": 3000, "units": "m", "reference": "AMSL"},
     "time": {"start": "2017-04-07T00:00:00Z", "end": "2017-04-07T06:00:00Z"}}

Time windows and altitude bands are closed intervals: touching counts as overlapping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from deconflict.errors import FieldError, InvalidInput, pointer_token
from deconflict.footprints import Footprint, parse_footprint
from deconflict.units import AltitudeReference, AltitudeUnits, to_metres

__all__ = [
    "MAX_ALTITUDE_M",
    "MAX_WINDOW",
    "MIN_ALTITUDE_M",
    "AltitudeBand",
    "TimeWindow",
    "Volume4D",
    "format_time",
    "parse_number",
    "parse_object",
    "parse_time",
    "parse_volume",
]

MAX_WINDOW = timedelta(days=400)
"""Longest time window of one volume (a protected site may be listed for a year)."""
MIN_ALTITUDE_M = -1_000.0
MAX_ALTITUDE_M = 100_000.0
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# RFC 3339 date-time; the offset is optional here only so that its absence gets its own rule.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    lower: float
    upper: float
    units: AltitudeUnits
    reference: AltitudeReference

    @property
    def lower_m(self) -> float:
        return to_metres(self.lower, self.units)

    @property
    def upper_m(self) -> float:
        return to_metres(self.upper, self.units)

    def to_json(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "units": self.units,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime

    def overlaps(self, other: TimeWindow) -> bool:
        return self.start <= other.end and other.start <= self.end

    def to_json(self) -> dict[str, str]:
        return {"start": format_time(self.start), "end": format_time(self.end)}


@dataclass(frozen=True, slots=True)
class Volume4D:
    footprint: Footprint
    altitude: AltitudeBand
    time: TimeWindow

    def to_json(self) -> dict[str, Any]:
        return {
            **self.footprint.to_json(),
            "altitude": self.altitude.to_json(),
            "time": self.time.to_json(),
        }


def format_time(t: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``.

    >>> format_time(datetime(2017, 4, 7, 0, 40, tzinfo=UTC))
    '2017-04-07T00:40:00Z'
    """
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(raw: Any, pointer: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; return it in UTC."""
    if not isinstance(raw, str):
        raise InvalidInput.one(pointer, "type", "a time is an RFC 3339 string")
    if len(raw) > 64 or not _RFC3339.fullmatch(raw):
        raise InvalidInput.one(pointer, "rfc3339", "a time is an RFC 3339 date-time")
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput.one(pointer, "rfc3339", "a time is an RFC 3339 date-time") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidInput.one(pointer, "time_offset", "a time must carry an offset (Z or +hh:mm)")
    # Compare before converting: year 1 or 9999 moved by its offset is out of datetime's range.
    if not _EARLIEST <= t <= _LATEST:
        raise InvalidInput.one(pointer, "time_range", "a time lies between 1970 and 2200")
    return t.astimezone(UTC)


def parse_object(
    raw: Any, pointer: str, allowed: set[str], required: set[str]
) -> Mapping[str, Any]:
    """``raw`` if it is a JSON object with only ``allowed`` members and every ``required`` one;
    otherwise every unknown and missing member at once."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.one(pointer, "type", "expected an object")
    errors = [
        FieldError(f"{pointer}/{pointer_token(k)}", "unknown_field", f"unknown field {k!r}")
        for k in sorted(set(raw) - allowed)
    ]
    errors += [
        FieldError(f"{pointer}/{k}", "required", f"{k} is required")
        for k in sorted(required - set(raw))
    ]
    if errors:
        raise InvalidInput(errors)
    return raw


def parse_number(raw: Any, pointer: str) -> float:
    """A JSON number as a finite float, or the field's ``type``/``finite`` error."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidInput.one(pointer, "type", "expected a number")
    try:
        value = float(raw)
    except OverflowError:  # a JSON integer too large for a float
        value = math.inf
    if not math.isfinite(value):
        raise InvalidInput.one(pointer, "finite", "expected a finite number")
    return value


def _altitude(raw: Any, pointer: str) -> AltitudeBand:
    obj = parse_object(
        raw,
        pointer,
        {"lower", "upper", "units", "reference"},
        {"lower", "upper", "units", "reference"},
    )
    units, reference = obj["units"], obj["reference"]
    if units not in get_args(AltitudeUnits):
        raise InvalidInput.one(f"{pointer}/units", "altitude_units", "units is 'm' or 'ft'")
    if reference not in get_args(AltitudeReference):
        raise InvalidInput.one(
            f"{pointer}/reference", "altitude_reference", "reference is 'W84' (ellipsoid) or 'AMSL'"
        )
    band = AltitudeBand(
        parse_number(obj["lower"], f"{pointer}/lower"),
        parse_number(obj["upper"], f"{pointer}/upper"),
        units,
        reference,
    )
    for name, value in (("lower", band.lower_m), ("upper", band.upper_m)):
        if not MIN_ALTITUDE_M <= value <= MAX_ALTITUDE_M:
            raise InvalidInput.one(
                f"{pointer}/{name}",
                "altitude_range",
                f"altitudes lie between {MIN_ALTITUDE_M:g} m and {MAX_ALTITUDE_M:g} m",
            )
    if band.lower > band.upper:
        raise InvalidInput.one(f"{pointer}/lower", "altitude_order", "lower is above upper")
    return band


def _time(raw: Any, pointer: str) -> TimeWindow:
    obj = parse_object(raw, pointer, {"start", "end"}, {"start", "end"})
    window = TimeWindow(
        parse_time(obj["start"], f"{pointer}/start"), parse_time(obj["end"], f"{pointer}/end")
    )
    if window.end <= window.start:
        raise InvalidInput.one(f"{pointer}/end", "time_order", "end is not after start")
    if window.end - window.start > MAX_WINDOW:
        raise InvalidInput.one(
            f"{pointer}/end", "max_window", f"a time window lasts at most {MAX_WINDOW.days} days"
        )
    return window


def parse_volume(raw: Any, pointer: str = "", *, trusted: bool = False) -> Volume4D:
    """Validate one Volume4D given as decoded JSON; ``trusted`` skips the costly geometric
    checks for volumes this service stored itself."""
    obj = parse_object(
        raw, pointer, {"geometry", "buffer_m", "altitude", "time"}, {"geometry", "altitude", "time"}
    )
    footprint = parse_footprint(obj["geometry"], obj.get("buffer_m"), pointer, trusted=trusted)
    return Volume4D(
        footprint,
        _altitude(obj["altitude"], f"{pointer}/altitude"),
        _time(obj["time"], f"{pointer}/time"),
    )
