"""Recorded traffic for a replay, and what a replay found, as files.

Three inputs, told apart by their first line:

- **OpenSky state vectors** (CSV with a header, the ``states_YYYY-MM-DD-HH.csv`` layout), read as
  a stream in file order, which must be time order;
- **the project's JSON**: ``{"tracks": [...]}``, each element a track report
  (:func:`deconflict.tracks.parse_track`) with its ``party``, read whole and sorted by time;
- **JSON lines**: one such report per line, read as a stream in time order.

Outputs: the records as a JSON list, and a GeoJSON FeatureCollection for the dashboard.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import numpy as np

from deconflict.errors import InvalidInput
from deconflict.geodesy import GEOD
from deconflict.replay import Record, Report, Side
from deconflict.track_alerts import ChangeKind
from deconflict.tracks import (
    MAX_GROUND_SPEED_MPS,
    MAX_TRACK_ID_CHARS,
    MAX_VERTICAL_RATE_MPS,
    Track,
    parse_track,
)
from deconflict.units import AltitudeReference
from deconflict.volumes import MAX_ALTITUDE_M, MIN_ALTITUDE_M, format_time, parse_object

__all__ = [
    "MAX_PROBLEMS",
    "OPENSKY_COLUMNS",
    "PATH_POINTS",
    "AltitudeSource",
    "Format",
    "Recording",
    "ReplayInputError",
    "geojson",
    "open_recording",
    "operator_party",
    "write_json",
]

OPENSKY_COLUMNS = (
    "time",
    "icao24",
    "lat",
    "lon",
    "velocity",
    "heading",
    "vertrate",
    "callsign",
    "onground",
    "alert",
    "spi",
    "squawk",
    "baroaltitude",
    "geoaltitude",
    "lastposupdate",
    "lastcontact",
)
_OPENSKY_USED = (
    "time",
    "icao24",
    "lat",
    "lon",
    "velocity",
    "heading",
    "vertrate",
    "callsign",
    "onground",
    "baroaltitude",
    "geoaltitude",
    "lastposupdate",
)
MAX_PROBLEMS = 20
"""Most problems reported of one JSON document."""
PATH_POINTS = 9
"""Points of each predicted path in the GeoJSON."""
_MISSING = frozenset({"", "null", "none", "nan"})
_LATEST_S = datetime(2200, 1, 1, tzinfo=UTC).timestamp()
_FLIGHT_ID = re.compile(r"([A-Z]{3})[0-9][A-Z0-9]{0,3}")


class ReplayInputError(ValueError):
    """A recorded traffic file that cannot be replayed; each problem names where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class AltitudeSource(StrEnum):
    BARO = "baro"
    """``baroaltitude`` as AMSL: the pressure altitude separation is flown on."""
    GEO = "geo"
    """``geoaltitude`` as W84: the GNSS height."""


class Format(StrEnum):
    OPENSKY = "opensky"
    JSON = "json"
    JSONL = "jsonl"


def operator_party(callsign: str, icao24: str) -> str:
    """The party of an aircraft in civil traffic: its operator's ICAO designator when the
    callsign is a flight number (three letters, a digit, up to three more), else the aircraft
    alone (its ICAO address).

    >>> operator_party("DLH4AB", "3c6444"), operator_party("DEABC", "3c0001")
    ('DLH', '3c0001')
    """
    m = _FLIGHT_ID.fullmatch(callsign)
    return m.group(1) if m else icao24


def _problems(exc: InvalidInput, prefix: str = "") -> list[str]:
    return [f"{prefix}{e.field or '/'}: {e.detail} [{e.rule}]" for e in exc.errors]


def _json_report(item: Any, pointer: str, prefix: str = "") -> Report:
    if not isinstance(item, dict):
        raise ReplayInputError([f"{prefix}{pointer or '/'}: expected a track report [type]"])
    party = item.get("party")
    if party is None:
        raise ReplayInputError([f"{prefix}{pointer}/party: party is required [required]"])
    if not isinstance(party, str) or not 1 <= len(party) <= MAX_TRACK_ID_CHARS:
        raise ReplayInputError(
            [f"{prefix}{pointer}/party: a party is a string of 1 to 64 characters [type]"]
        )
    try:
        track = parse_track({k: v for k, v in item.items() if k != "party"}, party, pointer)
    except InvalidInput as exc:
        raise ReplayInputError(_problems(exc, prefix)) from None
    return Report(known_at=track.time, aircraft=(party, track.track_id), track=track)


def _cell(row: list[str], index: int, name: str, line: int) -> float | None:
    text = row[index].strip()
    if text.lower() in _MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ReplayInputError([f"line {line}, column {name}: {text!r} is not a number"])
    return value


class _OpenSkyRows:
    """One state-vector row at a time: a report, or why the row takes no part."""

    def __init__(self, header: list[str], altitude: AltitudeSource, each_own_party: bool) -> None:
        self.width = len(header)
        self.col = {name: i for i, name in enumerate(header)}
        self.altitude = "baroaltitude" if altitude is AltitudeSource.BARO else "geoaltitude"
        self.reference: AltitudeReference = "AMSL" if altitude is AltitudeSource.BARO else "W84"
        self.each_own_party = each_own_party
        self.callsigns: dict[str, str] = {}
        self.last_s = -math.inf

    def __call__(self, row: list[str], line: int) -> Report | str:
        if len(row) != self.width:
            raise ReplayInputError([f"line {line}: {len(row)} fields, the header has {self.width}"])
        col = self.col
        time_s = _cell(row, col["time"], "time", line)
        if time_s is None or not 0 <= time_s <= _LATEST_S:
            raise ReplayInputError([f"line {line}, column time: not a time (Unix seconds)"])
        if time_s < self.last_s:
            raise ReplayInputError(
                [
                    f"line {line}: time {time_s:.15g} is before {self.last_s:.15g} on an earlier "
                    "line; the rows must be in time order"
                ]
            )
        self.last_s = time_s
        icao24 = row[col["icao24"]].strip().lower()
        if not 1 <= len(icao24) <= MAX_TRACK_ID_CHARS:
            raise ReplayInputError([f"line {line}, column icao24: not an aircraft address"])
        callsign = row[col["callsign"]].strip()
        if callsign:
            self.callsigns[icao24] = callsign
        else:
            callsign = self.callsigns.get(icao24, "")
        ground = row[col["onground"]].strip().lower()
        if ground not in ("true", "false", "1", "0", ""):
            raise ReplayInputError([f"line {line}, column onground: {ground!r} is not True/False"])
        values = {
            name: _cell(row, col[name], name, line)
            for name in ("lat", "lon", self.altitude, "velocity", "heading", "vertrate")
        }
        lat, lon, alt = values["lat"], values["lon"], values[self.altitude]
        speed, heading = values["velocity"], values["heading"]
        if ground in ("true", "1"):
            return "on the ground"
        if lat is None or lon is None:
            return "no position"
        if alt is None:
            return "no altitude"
        if speed is None or heading is None:
            return "no velocity"
        rate = values["vertrate"] or 0.0
        if not (
            -90 <= lat <= 90
            and -180 <= lon <= 180
            and MIN_ALTITUDE_M <= alt <= MAX_ALTITUDE_M
            and 0 <= speed <= MAX_GROUND_SPEED_MPS
            and 0 <= heading <= 360
            and abs(rate) <= MAX_VERTICAL_RATE_MPS
        ):
            return "implausible value"
        # The position is as of lastposupdate, which may be well before the row's time.
        position_s = _cell(row, col["lastposupdate"], "lastposupdate", line)
        if position_s is None or not 0 <= position_s <= time_s:
            position_s = time_s
        track = Track(
            party=icao24 if self.each_own_party else operator_party(callsign, icao24),
            track_id=icao24,
            time=datetime.fromtimestamp(position_s, UTC),
            lat=lat,
            lon=lon,
            altitude_m=alt,
            reference=self.reference,
            ground_speed_mps=speed,
            track_deg=heading % 360.0,
            vertical_rate_mps=rate,
        )
        known_at = datetime.fromtimestamp(time_s, UTC)
        return Report(known_at, (icao24,), track, callsign or None)


class Recording:
    """The reports of one recorded traffic file in the order they became known (iterate once),
    and what was read and skipped on the way."""

    def __init__(
        self,
        path: Path,
        kind: Format,
        *,
        altitude: AltitudeSource = AltitudeSource.BARO,
        each_own_party: bool = False,
    ) -> None:
        self.path = path
        self.kind = kind
        self.altitude = altitude
        self.each_own_party = each_own_party
        self.rows = 0
        """Rows (OpenSky) or reports (JSON) read so far."""
        self.skipped: Counter[str] = Counter()
        """Rows that took no part, by reason."""
        self.done = 0
        self.total = path.stat().st_size
        """Progress: bytes read of the file's bytes; reports handed out of all, for JSON."""
        self._loaded: list[Report] = []
        if kind is Format.JSON:
            self._loaded = self._document()
            self.rows = self.total = len(self._loaded)

    def __iter__(self) -> Iterator[Report]:
        if self.kind is Format.OPENSKY:
            return self._opensky()
        if self.kind is Format.JSONL:
            return self._json_lines()
        return self._handed_out()

    def _handed_out(self) -> Iterator[Report]:
        for report in self._loaded:
            self.done += 1
            yield report

    def _lines(self, f: IO[bytes]) -> Iterator[str]:
        for n, raw in enumerate(f, start=1):
            self.done += len(raw)
            try:
                yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ReplayInputError([f"line {n}: not UTF-8 text"]) from None

    def _opensky(self) -> Iterator[Report]:
        with self.path.open("rb") as f:
            rows = csv.reader(self._lines(f))
            header = [name.strip() for name in next(rows, [])]
            missing = [name for name in _OPENSKY_USED if name not in header]
            if missing:
                raise ReplayInputError(
                    [
                        f"line 1: no column {', '.join(missing)}; the OpenSky state-vector "
                        f"header is {','.join(OPENSKY_COLUMNS)}"
                    ]
                )
            parse = _OpenSkyRows(header, self.altitude, self.each_own_party)
            for row in rows:
                if not row:
                    continue
                self.rows += 1
                out = parse(row, rows.line_num)
                if isinstance(out, str):
                    self.skipped[out] += 1
                else:
                    yield out

    def _json_lines(self) -> Iterator[Report]:
        last: datetime | None = None
        with self.path.open("rb") as f:
            for n, raw in enumerate(f, start=1):
                self.done += len(raw)
                if not raw.strip():
                    continue
                self.rows += 1
                try:
                    item = json.loads(raw)
                except ValueError as exc:
                    raise ReplayInputError([f"line {n}: not JSON: {exc}"]) from None
                report = _json_report(item, "", f"line {n}: ")
                if last is not None and report.known_at < last:
                    raise ReplayInputError(
                        [f"line {n}: /time is before an earlier line's; reports must be in order"]
                    )
                last = report.known_at
                yield report

    def _document(self) -> list[Report]:
        try:
            raw = json.loads(self.path.read_bytes())
        except ValueError as exc:
            raise ReplayInputError([f"not JSON: {exc}"]) from None
        try:
            items = parse_object(raw, "", {"tracks"}, {"tracks"})["tracks"]
        except InvalidInput as exc:
            raise ReplayInputError(_problems(exc)) from None
        if not isinstance(items, list):
            raise ReplayInputError(["/tracks: expected an array of track reports [type]"])
        reports, problems = [], []
        for i, item in enumerate(items):
            try:
                reports.append(_json_report(item, f"/tracks/{i}"))
            except ReplayInputError as exc:
                problems += exc.problems
                if len(problems) >= MAX_PROBLEMS:
                    break
        if problems:
            raise ReplayInputError(problems[:MAX_PROBLEMS])
        return sorted(reports, key=lambda r: r.known_at)


def _sniff(path: Path) -> Format:
    with path.open("rb") as f:
        first = f.readline()
        while first and not first.strip():
            first = f.readline()
    if not first.lstrip().startswith((b"{", b"[")):
        return Format.OPENSKY
    try:
        item = json.loads(first)
    except ValueError:
        return Format.JSON  # a document spread over lines
    report = (
        isinstance(item, dict) and "tracks" not in item and ("party" in item or "track_id" in item)
    )
    return Format.JSONL if report else Format.JSON


def open_recording(
    path: Path, *, altitude: AltitudeSource = AltitudeSource.BARO, each_own_party: bool = False
) -> Recording:
    """The recording in ``path``, its format told by its first line. A JSON document is read
    and checked at once; the streams as they are iterated. OSError if it cannot be read."""
    return Recording(path, _sniff(path), altitude=altitude, each_own_party=each_own_party)


def _path(side: Side, seconds: float) -> list[list[float]]:
    t = np.linspace(0.0, seconds, PATH_POINTS)
    lon, lat, _ = GEOD.fwd(
        np.full(PATH_POINTS, side.lon_deg),
        np.full(PATH_POINTS, side.lat_deg),
        np.full(PATH_POINTS, side.track_deg),
        side.report.track.ground_speed_mps * t,
    )
    return [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]


def geojson(records: Iterable[Record]) -> dict[str, Any]:
    """A Point at the place of closest approach per record, with the record as properties, and
    for an opened or revised encounter a LineString per aircraft: its predicted path from the
    prediction's moment to the closest approach."""
    features: list[dict[str, Any]] = []
    for record in records:
        props = record.to_json()
        place = props["place"]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [place["lon"], place["lat"]]},
                "properties": {"feature": "closest_approach", **props},
            }
        )
        p = record.prediction
        if record.change is ChangeKind.CLOSED or p.tcpa_s <= 0:
            continue
        for side in (p.a, p.b):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": _path(side, p.tcpa_s)},
                    "properties": {
                        "feature": "path",
                        "encounter": record.encounter,
                        "change": str(record.change),
                        "time": format_time(record.at),
                        "track": side.track_id,
                        "party": side.party,
                        "callsign": side.report.callsign,
                        "from": format_time(p.at),
                        "to": props["closest_at"],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON, replacing ``path`` only once it is whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
