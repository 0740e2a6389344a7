"""Track reports (``deconflict.tracks``): validation of one report, and the picture at a moment.

Conversions are checked against hand arithmetic (a knot is 1852 m an hour, a foot 0.3048 m);
dead reckoning against pyproj's geodesic solved the other way round (``Geod.inv`` from where the
report was to where the picture puts it), to a micrometre and a microdegree.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconflict.errors import InvalidInput
from deconflict.tracks import Track, parse_track, picture_at

GEOD = Geod(ellps="WGS84")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def good_report() -> dict[str, Any]:
    return {
        "track_id": "EAGLE-1",
        "time": "2024-05-01T12:00:00+02:00",
        "lat": 50.5,
        "lon": -179.5,
        "altitude": {"value": 10_000, "units": "ft", "reference": "AMSL"},
        "ground_speed": {"value": 450, "units": "kt"},
        "track_deg": 359.5,
        "vertical_rate": {"value": -1500, "units": "ft/min"},
    }


def test_a_good_report_is_read_in_metres_and_seconds() -> None:
    track = parse_track(good_report(), "coalition")
    assert track.party == "coalition"
    assert track.track_id == "EAGLE-1"
    assert track.time == T0  # 12:00 at +02:00
    assert (track.lat, track.lon, track.track_deg) == (50.5, -179.5, 359.5)
    assert track.altitude_m == pytest.approx(3048.0)  # 10,000 ft * 0.3048
    assert track.reference == "AMSL"
    assert track.ground_speed_mps == pytest.approx(231.5)  # 450 * 1852 / 3600
    assert track.vertical_rate_mps == pytest.approx(-7.62)  # -1500 * 0.3048 / 60


@pytest.mark.parametrize(
    ("member", "value", "units", "expected"),
    [
        ("ground_speed", 120, "m/s", 120.0),
        ("ground_speed", 360, "kt", 185.2),  # 360 * 1852 / 3600
        ("ground_speed", 900, "km/h", 250.0),
        ("vertical_rate", -3.5, "m/s", -3.5),
        ("vertical_rate", 1000, "ft/min", 5.08),  # 1000 * 0.3048 / 60
        ("altitude", 1200, "m", 1200.0),
        ("altitude", 35_000, "ft", 10_668.0),
    ],
)
def test_units_are_converted_to_metres_and_seconds(
    member: str, value: float, units: str, expected: float
) -> None:
    raw = good_report()
    raw[member] = raw[member] | {"value": value, "units": units}
    track = parse_track(raw, "coalition")
    got = {
        "ground_speed": track.ground_speed_mps,
        "vertical_rate": track.vertical_rate_mps,
        "altitude": track.altitude_m,
    }[member]
    assert got == pytest.approx(expected, rel=1e-12)


def test_a_report_read_back_parses_to_the_same_track() -> None:
    track = parse_track(good_report(), "coalition")
    assert parse_track(track.to_json(), "coalition") == track


def _set(path: str, value: Any) -> Any:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target = raw
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _delete(path: str) -> Any:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target = raw
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


# (what is wrong, how the report is spoilt, JSON Pointer of the field, rule)
REJECTED = [
    ("missing_field", _delete("lat"), "/lat", "required"),
    ("missing_nested_field", _delete("altitude/reference"), "/altitude/reference", "required"),
    ("extra_field", _set("callsign", "EAGLE"), "/callsign", "unknown_field"),
    ("extra_nested_field", _set("ground_speed/gust", 3), "/ground_speed/gust", "unknown_field"),
    ("lat_nan", _set("lat", math.nan), "/lat", "finite"),
    ("lon_inf", _set("lon", math.inf), "/lon", "finite"),
    ("altitude_nan", _set("altitude/value", math.nan), "/altitude/value", "finite"),
    ("speed_inf", _set("ground_speed/value", math.inf), "/ground_speed/value", "finite"),
    ("rate_minus_inf", _set("vertical_rate/value", -math.inf), "/vertical_rate/value", "finite"),
    ("integer_beyond_floats", _set("lat", 10**400), "/lat", "finite"),
    ("lat_91", _set("lat", 91), "/lat", "lat_range"),
    ("lat_below_minus_90", _set("lat", -90.0001), "/lat", "lat_range"),
    ("lon_180_5", _set("lon", 180.5), "/lon", "lon_range"),
    ("lat_a_string", _set("lat", "50.5"), "/lat", "type"),
    ("lat_a_boolean", _set("lat", True), "/lat", "type"),
    ("track_360", _set("track_deg", 360), "/track_deg", "track_range"),
    ("track_negative", _set("track_deg", -0.5), "/track_deg", "track_range"),
    ("negative_speed", _set("ground_speed/value", -1), "/ground_speed/value", "speed"),
    ("speed_over_2000_mps", _set("ground_speed/value", 3900), "/ground_speed/value", "speed"),
    (
        "rate_over_500_mps",
        _set("vertical_rate/value", 100_000),  # ft/min: 508 m/s
        "/vertical_rate/value",
        "vertical_rate",
    ),
    ("speed_in_mph", _set("ground_speed/units", "mph"), "/ground_speed/units", "speed_units"),
    ("speed_units_a_number", _set("ground_speed/units", 1), "/ground_speed/units", "speed_units"),
    (
        "rate_in_fpm",
        _set("vertical_rate/units", "fpm"),
        "/vertical_rate/units",
        "vertical_rate_units",
    ),
    ("altitude_in_furlongs", _set("altitude/units", "fur"), "/altitude/units", "altitude_units"),
    (
        "altitude_agl",
        _set("altitude/reference", "AGL"),
        "/altitude/reference",
        "altitude_reference",
    ),
    ("altitude_too_high", _set("altitude/value", 330_000), "/altitude/value", "altitude_range"),
    ("altitude_too_low", _set("altitude/value", -3_500), "/altitude/value", "altitude_range"),
    ("altitude_not_an_object", _set("altitude", 3000), "/altitude", "type"),
    ("time_words", _set("time", "yesterday"), "/time", "rfc3339"),
    ("time_month_13", _set("time", "2024-13-01T00:00:00Z"), "/time", "rfc3339"),
    ("time_without_offset", _set("time", "2024-05-01T12:00:00"), "/time", "time_offset"),
    ("time_a_number", _set("time", 1_714_557_600), "/time", "type"),
    ("time_in_2300", _set("time", "2300-01-01T00:00:00Z"), "/time", "time_range"),
    ("track_id_65_characters", _set("track_id", "x" * 65), "/track_id", "track_id"),
    ("track_id_empty", _set("track_id", ""), "/track_id", "track_id"),
    ("track_id_a_number", _set("track_id", 7), "/track_id", "track_id"),
]


@pytest.mark.parametrize(
    ("spoil", "pointer", "rule"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_a_bad_report_is_rejected_at_the_field_with_the_rule(
    spoil: Any, pointer: str, rule: str
) -> None:
    raw = copy.deepcopy(good_report())
    spoil(raw)
    with pytest.raises(InvalidInput) as caught:
        parse_track(raw, "coalition")
    assert [(e.field, e.rule) for e in caught.value.errors] == [(pointer, rule)]


def test_a_rejected_report_in_a_batch_is_pointed_at_within_the_batch() -> None:
    raw = good_report() | {"lat": 91}
    with pytest.raises(InvalidInput) as caught:
        parse_track(raw, "coalition", "/tracks/3")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("/tracks/3/lat", "lat_range")]


def test_a_report_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_track([good_report()], "coalition", "/tracks/0")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("/tracks/0", "type")]


@pytest.mark.parametrize(
    ("path", "value", "attribute", "expected"),
    [
        ("track_id", "x" * 64, "track_id", "x" * 64),
        ("lat", 90, "lat", 90.0),
        ("lat", -90, "lat", -90.0),
        ("lon", 180, "lon", 180.0),
        ("lon", -180, "lon", -180.0),
        ("track_deg", 0, "track_deg", 0.0),
        ("track_deg", 359.999999, "track_deg", 359.999999),
        ("ground_speed", {"value": 0, "units": "m/s"}, "ground_speed_mps", 0.0),
        ("ground_speed", {"value": 2000, "units": "m/s"}, "ground_speed_mps", 2000.0),
        ("vertical_rate", {"value": -500, "units": "m/s"}, "vertical_rate_mps", -500.0),
        ("vertical_rate", {"value": 500, "units": "m/s"}, "vertical_rate_mps", 500.0),
        ("altitude", {"value": -1000, "units": "m", "reference": "W84"}, "altitude_m", -1000.0),
        ("altitude", {"value": 100_000, "units": "m", "reference": "W84"}, "altitude_m", 1e5),
    ],
)
def test_a_report_at_the_limits_is_accepted(
    path: str, value: Any, attribute: str, expected: Any
) -> None:
    track = parse_track(good_report() | {path: value}, "coalition")
    assert getattr(track, attribute) == expected


# -- the picture at a moment -----------------------------------------------------------------


def make_track(**changes: Any) -> Track:
    base: dict[str, Any] = {
        "party": "coalition",
        "track_id": "EAGLE-1",
        "time": T0,
        "lat": 50.5,
        "lon": -179.5,
        "altitude_m": 3000.0,
        "reference": "W84",
        "ground_speed_mps": 200.0,
        "track_deg": 45.0,
        "vertical_rate_mps": 5.0,
    }
    return Track(**(base | changes))


def angle_between(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@settings(max_examples=150, deadline=None)
@given(
    lat=st.floats(-89.9, 89.9),
    lon=st.floats(-180.0, 180.0),
    track_deg=st.floats(0.0, 360.0, exclude_max=True),
    speed=st.floats(1.0, 600.0),
    rate=st.floats(-50.0, 50.0),
    dt_s=st.floats(-3600.0, 3600.0).filter(lambda s: abs(s) >= 1.0),
)
def test_the_picture_moves_a_report_along_its_geodesic_keeping_its_course(
    lat: float, lon: float, track_deg: float, speed: float, rate: float, dt_s: float
) -> None:
    """Forwards or backwards in time: the new position lies ``speed * |dt|`` along the geodesic
    that leaves the report's position on its track (or on the reverse track, backwards); the new
    course is that geodesic's azimuth there; the altitude changes by ``rate * dt``."""
    track = make_track(
        lat=lat, lon=lon, track_deg=track_deg, ground_speed_mps=speed, vertical_rate_mps=rate
    )
    at = T0 + timedelta(seconds=dt_s)
    dt = (at - T0).total_seconds()  # as a datetime can hold it: to the microsecond
    traffic = picture_at([track], at).traffic
    new_lat, new_lon = float(traffic.lat_deg[0]), float(traffic.lon_deg[0])
    az_out, az_back, distance = GEOD.inv(lon, lat, new_lon, new_lat)
    assert distance == pytest.approx(speed * abs(dt), abs=1e-6)
    # Leaving the report's position: on its track forwards, on the reverse of it backwards.
    assert angle_between(az_out, track_deg if dt > 0 else track_deg + 180.0) < 1e-6
    # At the new position, the aircraft still flies along the same geodesic, away from (dt > 0)
    # or towards (dt < 0) the report's position.
    course = float(traffic.track_deg[0])
    assert 0.0 <= course < 360.0
    assert angle_between(course, az_back + 180.0 if dt > 0 else az_back) < 1e-6
    assert float(traffic.altitude_m[0]) == pytest.approx(3000.0 + rate * dt, abs=1e-9)
    assert float(traffic.ground_speed_mps[0]) == speed
    assert float(traffic.vertical_rate_mps[0]) == rate


@settings(max_examples=100, deadline=None)
@given(
    lat=st.floats(-89.9, 89.9),
    lon=st.floats(-180.0, 180.0),
    track_deg=st.floats(0.0, 360.0, exclude_max=True),
    speed=st.floats(0.0, 600.0),
    dt_s=st.integers(-3600, 3600),
)
def test_moving_a_report_there_and_back_returns_it(
    lat: float, lon: float, track_deg: float, speed: float, dt_s: int
) -> None:
    track = make_track(lat=lat, lon=lon, track_deg=track_deg, ground_speed_mps=speed)
    later = T0 + timedelta(seconds=dt_s)
    there = picture_at([track], later).traffic
    moved = make_track(
        time=later,
        lat=float(there.lat_deg[0]),
        lon=float(there.lon_deg[0]),
        altitude_m=float(there.altitude_m[0]),
        track_deg=float(there.track_deg[0]),
        ground_speed_mps=speed,
    )
    back = picture_at([moved], T0).traffic
    gap = GEOD.inv(lon, lat, float(back.lon_deg[0]), float(back.lat_deg[0]))[2]
    assert gap < 1e-6
    assert angle_between(float(back.track_deg[0]), track_deg) < 1e-6
    assert float(back.altitude_m[0]) == pytest.approx(3000.0, abs=1e-9)


def test_a_report_at_the_moment_of_the_picture_is_unchanged() -> None:
    track = make_track(lat=89.95, lon=179.99, track_deg=123.0)
    traffic = picture_at([track], T0).traffic
    assert (traffic.lat_deg[0], traffic.lon_deg[0], traffic.track_deg[0]) == (89.95, 179.99, 123.0)
    assert traffic.altitude_m[0] == 3000.0


def test_a_hovering_report_keeps_its_place_and_heading() -> None:
    track = make_track(ground_speed_mps=0.0, track_deg=200.0, vertical_rate_mps=-2.0)
    traffic = picture_at([track], T0 + timedelta(minutes=2)).traffic
    assert (traffic.lat_deg[0], traffic.lon_deg[0], traffic.track_deg[0]) == (50.5, -179.5, 200.0)
    assert traffic.altitude_m[0] == pytest.approx(3000.0 - 2.0 * 120)


def test_a_report_flown_across_the_antimeridian_lands_on_the_other_side() -> None:
    # Due east at 200 m/s for 5 minutes from 179.9° E on the equator: 60 km, about 0.539°.
    track = make_track(lat=0.0, lon=179.9, track_deg=90.0, ground_speed_mps=200.0)
    traffic = picture_at([track], T0 + timedelta(minutes=5)).traffic
    degree_m = 2 * math.pi * 6_378_137.0 / 360  # a degree of the equator
    assert float(traffic.lon_deg[0]) == pytest.approx(179.9 + 60_000 / degree_m - 360, abs=1e-9)
    assert float(traffic.lat_deg[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(traffic.track_deg[0]) == pytest.approx(90.0, abs=1e-9)


def test_the_picture_keeps_the_order_of_reports_and_codes_parties_and_references() -> None:
    tracks = [
        make_track(party="russia", track_id="A", reference="AMSL"),
        make_track(party="coalition", track_id="B"),
        make_track(party="russia", track_id="C", time=T0 - timedelta(seconds=30)),
    ]
    picture = picture_at(tracks, T0)
    assert picture.at == T0
    assert picture.tracks == tuple(tracks)
    assert picture.parties == ("coalition", "russia")
    assert picture.traffic.party.tolist() == [1, 0, 1]
    assert picture.traffic.references().tolist() == [1, 0, 0]
    assert len(picture.traffic) == 3


def test_an_empty_picture_has_no_traffic() -> None:
    picture = picture_at([], T0)
    assert picture.parties == ()
    assert len(picture.traffic) == 0
    assert picture.traffic.lat_deg.dtype == np.float64
