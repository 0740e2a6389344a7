"""`deconflict replay`: recorded traffic through detection, cycle by cycle.

The traffic is synthetic, along geodesics whose geometry is known in closed form: the equator
and meridians (headings 90°/270° and 0°/180° stay constant along them, so dead reckoning is
exact). Expected times and distances are worked out here by hand from that geometry, in the
plane of the encounter; the tolerances cover the plane's departure from the ellipsoid (well under
a metre over these 60 km).
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.replay import ReplayOptions, Report, replay
from deconflict.separation import Separation
from deconflict.tracks import Track

runner = CliRunner()
WGS84 = Geod(ellps="WGS84")
A_M = 6_378_137.0  # equatorial radius: a degree of longitude on the equator is A_M * pi / 180
NM = 1852.0
FT = 0.3048
T0 = 1_656_324_000  # 2022-06-27T10:00:00Z
HEADER = [
    *("time", "icao24", "lat", "lon", "velocity", "heading", "vertrate", "callsign"),
    *("onground", "alert", "spi", "squawk", "baroaltitude", "geoaltitude"),
    *("lastposupdate", "lastcontact"),
]


@dataclass
class Flight:
    """An aircraft flying a constant heading along the equator or a meridian."""

    icao24: str
    callsign: str
    lon: float
    """Position at T0."""
    lat: float
    heading: float
    speed: float
    baro_m: float | None = 10_000.0
    geo_m: float | None = None
    onground: bool = False
    position_lag_s: int = 0
    """Each row's position is as of this long before the row's time (lastposupdate)."""
    no_position_at: set[int] = field(default_factory=set)
    """Row times (seconds after T0) with an empty position."""

    def row(self, t: int) -> list[str]:
        pos_t = t - self.position_lag_s
        lon, lat, _ = WGS84.fwd(self.lon, self.lat, self.heading, self.speed * pos_t)
        hidden = t in self.no_position_at
        geo = self.geo_m if self.geo_m is not None else (self.baro_m or 0.0) + 50.0

        def num(x: float | None) -> str:
            return "" if x is None else repr(x)

        return [
            str(T0 + t),
            self.icao24,
            "" if hidden else repr(lat),
            "" if hidden else repr(lon),
            repr(self.speed),
            repr(self.heading),
            "0.0",
            self.callsign.ljust(8),
            "True" if self.onground else "False",
            "False",
            "False",
            "1000",
            num(self.baro_m),
            num(geo),
            str(T0 + pos_t),
            str(T0 + t),
        ]


def opensky(tmp_path: Path, *flights: Flight, seconds: int = 300, step: int = 10) -> Path:
    """An OpenSky state-vector file: a row per flight every ``step`` s, in time order."""
    path = tmp_path / "states_2022-06-27-10.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for t in range(0, seconds + 1, step):
            for flight in flights:
                out.writerow(flight.row(t))
    return path


def run(*args: Any) -> Any:
    result = runner.invoke(app, ["replay", *map(str, args)])
    assert "Traceback" not in result.output
    return result


def alerts(tmp_path: Path, *args: Any) -> list[dict[str, Any]]:
    out = tmp_path / "alerts.json"
    result = run(*args, "--json", out)
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(out.read_text())
    return data


def at(t: str) -> float:
    """Seconds after T0 of an RFC 3339 time."""
    return datetime.fromisoformat(t).timestamp() - T0


# Head-on along the equator: A eastbound from 0°, B westbound from 0.52°, 200 m/s each, level at
# one altitude. They close at 400 m/s from d0 = 0.52° of equator; closest approach 0 m.
HEAD_ON_D0 = 0.52 * math.pi / 180 * A_M
HEAD_ON_T_IN = (HEAD_ON_D0 - 5 * NM) / 400
HEAD_ON_TCPA = HEAD_ON_D0 / 400
HEAD_ON_T_OUT = (HEAD_ON_D0 + 5 * NM) / 400


def head_on_b(**kw: Any) -> Flight:
    return Flight(
        **{
            "icao24": "bbb002",
            "callsign": "RYR200",
            "lon": 0.52,
            "lat": 0.0,
            "heading": 270.0,
            "speed": 200.0,
        }
        | kw
    )


HEAD_ON_A = Flight("aaa001", "DLH100", 0.0, 0.0, 90.0, 200.0)


# Crossing at right angles at (10°E, 0°): A eastbound on the equator 30 km west of the crossing
# at 200 m/s; B southbound on the 10°E meridian 20 km north of it at 150 m/s, 500 ft higher.
# Relative position of B from A r = (30 km, 20 km), relative velocity w = (-200, -150) m/s.
CROSS_R = (30_000.0, 20_000.0)
CROSS_W = (-200.0, -150.0)
CROSS_W2 = CROSS_W[0] ** 2 + CROSS_W[1] ** 2
CROSS_TCPA = -(CROSS_R[0] * CROSS_W[0] + CROSS_R[1] * CROSS_W[1]) / CROSS_W2  # 144 s
CROSS_DCPA = abs(CROSS_R[0] * CROSS_W[1] - CROSS_R[1] * CROSS_W[0]) / math.sqrt(CROSS_W2)  # 2 km
_qb = CROSS_R[0] * CROSS_W[0] + CROSS_R[1] * CROSS_W[1]
_qc = CROSS_R[0] ** 2 + CROSS_R[1] ** 2 - (5 * NM) ** 2
CROSS_T_IN = (-_qb - math.sqrt(_qb * _qb - CROSS_W2 * _qc)) / CROSS_W2


def crossing(**b: Any) -> tuple[Flight, Flight]:
    west_lon, _, _ = WGS84.fwd(10.0, 0.0, 270.0, CROSS_R[0])
    _, north_lat, _ = WGS84.fwd(10.0, 0.0, 0.0, CROSS_R[1])
    a = Flight("aaa001", "DLH100", west_lon, 0.0, 90.0, 200.0)
    kw = {"baro_m": 10_000.0 + 500 * FT} | b
    return a, Flight("bbb002", "RYR200", 10.0, north_lat, 180.0, 150.0, **kw)


def test_crossing_traffic_gives_the_hand_computed_closest_approach(tmp_path: Path) -> None:
    # B's positions are 5 s old in every row (lastposupdate): only a replay that dead-reckons
    # from lastposupdate, not from the row's time, finds the closest approach at 144 s.
    (found, *rest) = alerts(tmp_path, opensky(tmp_path, *crossing(position_lag_s=5)))
    assert found["change"] == "opened"
    assert (found["a"], found["party_a"], found["callsign_a"]) == ("aaa001", "DLH", "DLH100")
    assert (found["b"], found["party_b"], found["callsign_b"]) == ("bbb002", "RYR", "RYR200")
    assert at(found["time"]) == 0
    assert found["tcpa_s"] == pytest.approx(CROSS_TCPA, abs=0.05)
    assert found["dcpa_m"] == pytest.approx(CROSS_DCPA, abs=5.0)
    assert found["t_in_s"] == pytest.approx(CROSS_T_IN, abs=0.05)
    assert found["dz_m"] == pytest.approx(500 * FT, abs=0.01)
    assert found["lost"] is False
    # Midpoint at closest approach: A 1.2 km west of the crossing, B 1.6 km south of it.
    a_x = -CROSS_R[0] + 200.0 * CROSS_TCPA
    b_y = CROSS_R[1] - 150.0 * CROSS_TCPA
    lon_mid = 10.0 + a_x / 2 / (A_M * math.pi / 180)
    lat_mid = b_y / 2 / 110_574.0  # metres per degree of latitude at the equator
    assert found["place"]["lon"] == pytest.approx(lon_mid, abs=0.0011)
    assert found["place"]["lat"] == pytest.approx(lat_mid, abs=0.0011)
    assert found["altitude_band"]["lower"] <= 10_000.0
    assert found["altitude_band"]["upper"] >= 10_000.0 + 500 * FT
    assert all(r["encounter"] == found["encounter"] for r in rest)


@pytest.mark.parametrize(
    ("lookahead", "cycle", "step"),
    [(300, None, 10), (90, None, 10), (90, 1, 1), (90, 2.5, 2.5)],
)
def test_an_encounter_over_many_cycles_is_one_alert(
    tmp_path: Path, lookahead: int, cycle: float | None, step: float
) -> None:
    args = [opensky(tmp_path, HEAD_ON_A, head_on_b()), "--lookahead", lookahead]
    records = alerts(tmp_path, *args, *(["--cycle", cycle] if cycle else []))
    assert {r["encounter"] for r in records} == {"E1"}
    changes = [r["change"] for r in records]
    assert changes.count("opened") == 1
    assert changes.count("closed") == 1
    # Predicted from the first cycle within the look-ahead of the loss, to the last cycle
    # before separation is regained; closed three cycles (the default grace) after that.
    first = max(0.0, math.ceil((HEAD_ON_T_IN - lookahead) / step) * step)
    last = math.ceil(HEAD_ON_T_OUT / step) * step - step
    predicted_cycles = round((last - first) / step) + 1
    assert len(records) < predicted_cycles / 2
    opened = records[0]
    assert opened["change"] == "opened"
    assert at(opened["time"]) == pytest.approx(first)
    # The closest approach is sought within the look-ahead (separation.detect).
    assert opened["tcpa_s"] == pytest.approx(min(HEAD_ON_TCPA - first, lookahead), abs=0.05)
    assert opened["t_in_s"] == pytest.approx(HEAD_ON_T_IN - first, abs=0.05)
    tcpa = min(HEAD_ON_TCPA - first, lookahead)
    assert opened["dcpa_m"] == pytest.approx(400 * (HEAD_ON_TCPA - first - tcpa), abs=1.0)
    assert at(records[-1]["time"]) == pytest.approx(last + 3 * step)
    assert records[-1]["change"] == "closed"
    assert any(r["lost"] for r in records)


def test_the_grace_option_sets_when_an_encounter_closes(tmp_path: Path) -> None:
    records = alerts(tmp_path, opensky(tmp_path, HEAD_ON_A, head_on_b()), "--grace", 60)
    last = math.ceil(HEAD_ON_T_OUT / 10) * 10 - 10
    assert records[-1]["change"] == "closed"
    assert at(records[-1]["time"]) == last + 60


def test_aircraft_on_the_ground_or_without_position_or_altitude_take_no_part(
    tmp_path: Path,
) -> None:
    a = HEAD_ON_A
    flights = [
        a,
        head_on_b(icao24="bbb001", onground=True),
        head_on_b(icao24="bbb002", no_position_at=set(range(0, 301, 10))),
        head_on_b(icao24="bbb003", baro_m=None),
    ]
    path = opensky(tmp_path, *flights)
    result = run(path, "--json", tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text()) == []
    rows = 31  # 0 to 300 s every 10 s
    assert f"{rows * len(flights)} rows read, {rows} used" in result.stdout
    assert f"{rows} on the ground" in result.stdout
    assert f"{rows} no position" in result.stdout
    assert f"{rows} no altitude" in result.stdout


def test_rows_missing_a_position_now_and_then_leave_the_alert(tmp_path: Path) -> None:
    gappy = head_on_b(no_position_at=set(range(10, 301, 20)))
    records = alerts(tmp_path, opensky(tmp_path, HEAD_ON_A, gappy))
    assert [r["change"] for r in records].count("opened") == 1


def test_geoaltitude_is_used_with_altitude_geo(tmp_path: Path) -> None:
    # Barometric altitudes 3,000 ft apart, GNSS heights 100 ft apart.
    a = Flight("aaa001", "DLH100", 0.0, 0.0, 90.0, 200.0, baro_m=10_000.0, geo_m=10_100.0)
    b = head_on_b(baro_m=10_000.0 + 3_000 * FT, geo_m=10_100.0 + 100 * FT)
    path = opensky(tmp_path, a, b)
    assert alerts(tmp_path, path) == []
    (opened, *_) = alerts(tmp_path, path, "--altitude", "geo")
    assert opened["dz_m"] == pytest.approx(100 * FT, abs=0.01)
    assert opened["altitude_band"]["reference"] == "W84"


def test_one_operator_is_one_party_unless_each_aircraft_is_its_own(tmp_path: Path) -> None:
    path = opensky(tmp_path, HEAD_ON_A, head_on_b(callsign="DLH200"))
    assert alerts(tmp_path, path) == []
    (opened, *_) = alerts(tmp_path, path, "--each-own-party")
    assert (opened["party_a"], opened["party_b"]) == ("aaa001", "bbb002")


def test_aircraft_without_a_flight_number_are_their_own_party(tmp_path: Path) -> None:
    # Registrations as callsigns: no operator to group by.
    path = opensky(
        tmp_path,
        Flight("aaa001", "DEABC", 0.0, 0.0, 90.0, 200.0),
        head_on_b(callsign="DEFGH"),
    )
    (opened, *_) = alerts(tmp_path, path)
    assert (opened["party_a"], opened["party_b"]) == ("aaa001", "bbb002")


def test_stale_positions_take_no_part(tmp_path: Path) -> None:
    # B's position is 60 s old in every row: older than the 30 s staleness limit.
    path = opensky(tmp_path, HEAD_ON_A, head_on_b(position_lag_s=60))
    assert alerts(tmp_path, path) == []
    (opened, *_) = alerts(tmp_path, path, "--stale-after", 90)
    assert opened["tcpa_s"] == pytest.approx(HEAD_ON_TCPA - at(opened["time"]), abs=0.05)


@pytest.mark.parametrize(
    ("args", "alerted"),
    [
        ((), True),
        (("--separation-nm", CROSS_DCPA / NM * 0.99), False),
        (("--separation-nm", CROSS_DCPA / NM * 1.01), True),
        (("--separation-ft", 490), False),
        (("--separation-ft", 510), True),
    ],
)
def test_the_minima_are_the_options(tmp_path: Path, args: tuple[Any, ...], alerted: bool) -> None:
    assert bool(alerts(tmp_path, opensky(tmp_path, *crossing()), *args)) is alerted


def track_report(flight: Flight, party: str, t: int) -> dict[str, Any]:
    row = dict(zip(HEADER, flight.row(t), strict=True))
    return {
        "party": party,
        "track_id": flight.callsign,
        "time": datetime.fromtimestamp(int(row["lastposupdate"]), UTC).isoformat(),
        "lat": float(row["lat"]),
        "lon": float(row["lon"]),
        "altitude": {"value": (flight.baro_m or 0.0) / FT, "units": "ft", "reference": "AMSL"},
        "ground_speed": {"value": flight.speed / (NM / 3600), "units": "kt"},
        "track_deg": flight.heading,
        "vertical_rate": {"value": 0, "units": "ft/min"},
    }


def test_project_json_names_each_tracks_party(tmp_path: Path) -> None:
    a, b = crossing()
    # Reports out of time order: a JSON document is sorted on reading.
    reports = [
        track_report(f, p, t) for t in range(300, -1, -30) for f, p in ((a, "blue"), (b, "red"))
    ]
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps({"tracks": reports}))
    (opened, *_) = alerts(tmp_path, path)
    pair = (opened["a"], opened["party_a"], opened["b"], opened["party_b"])
    assert pair == ("DLH100", "blue", "RYR200", "red")
    assert at(opened["time"]) == 0
    assert opened["tcpa_s"] == pytest.approx(CROSS_TCPA, abs=0.05)
    assert opened["dcpa_m"] == pytest.approx(CROSS_DCPA, abs=5.0)
    same = tmp_path / "one-party.json"
    same.write_text(json.dumps({"tracks": [r | {"party": "blue"} for r in reports]}))
    assert alerts(tmp_path, same) == []


def test_json_lines_are_read_as_a_stream(tmp_path: Path) -> None:
    a, b = crossing()
    path = tmp_path / "tracks.jsonl"
    lines = [track_report(f, p, t) for t in range(0, 301, 30) for f, p in ((a, "blue"), (b, "red"))]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    (opened, *_) = alerts(tmp_path, path)
    assert opened["tcpa_s"] == pytest.approx(CROSS_TCPA, abs=0.05)


def test_the_geojson_has_the_closest_approach_and_both_paths(tmp_path: Path) -> None:
    out = tmp_path / "alerts.geojson"
    result = run(opensky(tmp_path, *crossing()), "--geojson", out)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection"
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        positions = (
            [geometry["coordinates"]] if geometry["type"] == "Point" else geometry["coordinates"]
        )
        assert geometry["type"] in {"Point", "LineString"}
        assert geometry["type"] == "Point" or len(positions) >= 2
        for lon, lat in positions:
            assert -180 <= lon <= 180
            assert -90 <= lat <= 90
    opened = [f for f in doc["features"] if f["properties"]["change"] == "opened"]
    point, path_a, path_b = opened
    assert point["geometry"]["type"] == "Point"
    assert point["properties"]["tcpa_s"] == pytest.approx(CROSS_TCPA, abs=0.05)
    # Each path runs from the aircraft at the cycle to where it is at closest approach.
    west_lon, _, _ = WGS84.fwd(10.0, 0.0, 270.0, CROSS_R[0])
    a_end, _, _ = WGS84.fwd(west_lon, 0.0, 90.0, 200.0 * CROSS_TCPA)
    assert path_a["properties"]["track"] == "aaa001"
    assert path_a["geometry"]["coordinates"][0] == pytest.approx([west_lon, 0.0], abs=1e-5)
    assert path_a["geometry"]["coordinates"][-1] == pytest.approx([a_end, 0.0], abs=2e-4)
    _, b_end, _ = WGS84.fwd(10.0, 0.0, 0.0, CROSS_R[1] - 150.0 * CROSS_TCPA)
    assert path_b["geometry"]["coordinates"][-1] == pytest.approx([10.0, b_end], abs=2e-4)


def test_the_alerts_are_printed(tmp_path: Path) -> None:
    result = run(opensky(tmp_path, *crossing()))
    assert result.exit_code == 0, result.output
    assert "E1 opened: DLH100 aaa001 (DLH) and RYR200 bbb002 (RYR)" in result.stdout
    assert "1 encounters opened" in result.stdout


def bad_csv(tmp_path: Path, edit: Any) -> Path:
    path = opensky(tmp_path, *crossing(), seconds=30)
    with path.open() as f:
        rows = list(csv.reader(f))
    edit(rows)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _set(row: int, column: str, value: str) -> Any:
    def edit(rows: list[list[str]]) -> None:
        rows[row][HEADER.index(column)] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: [r.pop(HEADER.index("velocity")) for r in rows], "no column velocity"),
        (_set(3, "lat", "north"), "line 4, column lat: 'north' is not a number"),
        (_set(2, "baroaltitude", "inf"), "line 3, column baroaltitude"),
        (_set(5, "onground", "maybe"), "line 6, column onground"),
        (_set(6, "time", str(T0 - 10)), "line 7: time"),
        (lambda rows: rows[4].pop(), "line 5: 15 fields, the header has 16"),
    ],
)
def test_a_bad_opensky_file_is_named_by_line_and_column(
    tmp_path: Path, edit: Any, message: str
) -> None:
    result = run(bad_csv(tmp_path, edit))
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"tracks": [{"party": "blue"}]}, "/tracks/0/track_id: track_id is required [required]"),
        ({"track": []}, "/track: unknown field"),
        ({"tracks": {}}, "/tracks: expected an array"),
        ({"tracks": [1]}, "/tracks/0: expected a track report"),
    ],
)
def test_a_bad_json_file_is_named_by_field(tmp_path: Path, body: Any, message: str) -> None:
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps(body))
    result = run(path)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_bad_report_names_its_field_and_rule(tmp_path: Path) -> None:
    good = track_report(crossing()[0], "blue", 0)
    bad = good | {"altitude": {"value": 1, "units": "furlong", "reference": "AMSL"}}
    no_party = {k: v for k, v in good.items() if k != "party"}
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps({"tracks": [good, bad, no_party]}))
    result = run(path)
    assert result.exit_code == 2
    assert "/tracks/1/altitude/units: units is 'm' or 'ft' [altitude_units]" in result.stderr
    assert "/tracks/2/party: party is required" in result.stderr
    lines = tmp_path / "tracks.jsonl"
    lines.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = run(lines)
    assert result.exit_code == 2
    assert "line 2: /altitude/units" in result.stderr


def test_a_missing_file_or_options_for_another_format_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path / "nothing.csv")
    assert result.exit_code == 2
    assert "cannot read it" in result.stderr
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps({"tracks": [track_report(crossing()[0], "blue", 0)]}))
    result = run(path, "--each-own-party")
    assert result.exit_code == 2
    assert "for OpenSky files" in result.stderr


def test_replay_runs_as_a_real_process(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    path = opensky(tmp_path, HEAD_ON_A, head_on_b())
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", "replay", str(path), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(out.read_text())
    assert [r["change"] for r in records].count("opened") == 1
    assert records[0]["tcpa_s"] == pytest.approx(HEAD_ON_TCPA, abs=0.05)
    bad = subprocess.run(
        [sys.executable, "-m", "deconflict", "replay", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def report(aircraft: str, t: int, party: str = "") -> Report:
    when = datetime.fromtimestamp(T0 + t, UTC)
    track = Track(party or aircraft, aircraft, when, 0.0, 0.0, 1_000.0, "AMSL", 0.0, 0.0, 0.0)
    return Report(when, (aircraft,), track)


def test_idle_stretches_are_skipped() -> None:
    # One report, then another an hour later: cycles every 10 s while the first is fresh (30 s),
    # then straight to the second.
    options = ReplayOptions(Separation(), cycle_s=10.0)
    cycles = list(replay([report("a", 0), report("a", 3600)], options))
    assert [c.at - datetime.fromtimestamp(T0, UTC) for c in cycles] == [
        timedelta(seconds=s) for s in (0, 10, 20, 30, 40, 3600)
    ]
    assert [c.aircraft for c in cycles] == [1, 1, 1, 1, 0, 1]


def test_reports_out_of_order_are_refused() -> None:
    options = ReplayOptions(Separation(), cycle_s=10.0)
    with pytest.raises(ValueError, match="after one at"):
        list(replay([report("a", 20), report("b", 0)], options))
