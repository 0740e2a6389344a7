"""Zone entry and conformance alerts.

Expected entry times come from geometry stated here: tracks on the equator (a geodesic, on which
a degree of longitude is ``a·π/180`` metres) towards lon/lat boxes whose west and east edges are
meridians, and climbs at a stated rate; never from deconflict itself. Distances are chosen so
that each entry falls half-way through a second, away from the rounding of alert times to whole
seconds.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconflict.declarations import Declaration, apply_patch, parse_new
from deconflict.track_alerts import AlertKind
from deconflict.track_zones import zone_alerts
from deconflict.tracks import Track, parse_track, picture_at
from deconflict.units import REFERENCE_MISMATCH_MARGIN_M
from deconflict.volumes import format_time
from factories import box, declaration, line, point, volume

GEOD = Geod(ellps="WGS84")
EQUATOR_M_PER_DEG = 6_378_137.0 * math.pi / 180
NOW = datetime(2017, 4, 6, 20, 0, tzinfo=UTC)
HALF_WIDTH_M = 5_000.0
HALF_DEG = HALF_WIDTH_M / EQUATOR_M_PER_DEG
SQUARE = box(-HALF_DEG, -HALF_DEG, HALF_DEG, HALF_DEG)
SPEED = 200.0
LOOKAHEAD_S = 300.0


def iso(t: datetime) -> str:
    return format_time(t)


def track(
    lon: float,
    lat: float = 0.0,
    *,
    party: str = "coalition",
    track_id: str = "VIPER11",
    altitude_m: float = 5_000.0,
    reference: str = "AMSL",
    speed: float = SPEED,
    course: float = 90.0,
    climb: float = 0.0,
) -> Track:
    body = {
        "track_id": track_id,
        "time": iso(NOW),
        "lat": lat,
        "lon": lon,
        "altitude": {"value": altitude_m, "units": "m", "reference": reference},
        "ground_speed": {"value": speed, "units": "m/s"},
        "track_deg": course,
        "vertical_rate": {"value": climb, "units": "m/s"},
    }
    return parse_track(body, party)


def zone(
    kind: str = "air_defense_zone",
    geometry: dict[str, Any] = SQUARE,
    *,
    party: str = "russia",
    id: str = "adz1",
    **vol: Any,
) -> Declaration:
    vol.setdefault("start", iso(NOW - timedelta(hours=1)))
    vol.setdefault("end", iso(NOW + timedelta(hours=1)))
    body = declaration(kind, "Zone", volume(geometry, **vol))
    return parse_new(body, id=id, party=party, now=NOW - timedelta(days=1))


def ended(decl: Declaration, at: datetime) -> Declaration:
    active = apply_patch(decl, {"state": "active"}, now=at - timedelta(minutes=1))
    return apply_patch(active, {"state": "ended"}, now=at)


def west_of_edge(distance_m: float) -> float:
    """The longitude ``distance_m`` west of the square's west edge, along the equator."""
    return -HALF_DEG - distance_m / EQUATOR_M_PER_DEG


def alerts_for(tracks: list[Track], decls: list[Declaration], **kw: Any) -> list[Any]:
    return zone_alerts(picture_at(tracks, NOW), decls, LOOKAHEAD_S, **kw)


def test_stated_equator_arcs_are_what_pyproj_measures() -> None:
    assert GEOD.inv(west_of_edge(15_100.0), 0.0, -HALF_DEG, 0.0)[2] == pytest.approx(
        15_100.0, abs=0.01
    )


def test_track_heading_for_another_partys_zone_enters_it_at_its_edge() -> None:
    # 20.1 km west of the centre, 15.1 km from the west edge: 75.5 s at 200 m/s.
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [zone()])
    assert alert.kind is AlertKind.ZONE_ENTRY
    assert alert.key == ("zone_entry", "coalition", "VIPER11", "adz1")
    assert not alert.lost
    assert alert.closest_at == NOW + timedelta(seconds=75)
    assert alert.closest_distance_m == 0.0
    view = alert.views["coalition"]
    assert view["entry_at"] == iso(NOW + timedelta(seconds=75))
    assert view["place"] == {"lat": 0.0, "lon": round(-HALF_DEG, 3)}
    assert view["altitude_band"]["lower"] <= 5_000.0 <= view["altitude_band"]["upper"]
    assert view["altitude_band"]["reference"] == "AMSL"


def test_track_flying_away_from_the_zone_enters_nothing() -> None:
    assert alerts_for([track(west_of_edge(15_100.0), course=270.0)], [zone()]) == []


def test_track_beyond_the_lookahead_enters_nothing() -> None:
    # 60.1 km away is 300.5 s at 200 m/s, just beyond the 300 s look-ahead.
    assert alerts_for([track(west_of_edge(60_100.0))], [zone()]) == []


def test_a_strike_volume_is_a_zone_too() -> None:
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [zone("strike", id="str1")])
    assert alert.views["coalition"]["other_kind"] == "strike"


def test_own_partys_zone_is_no_alert() -> None:
    assert alerts_for([track(west_of_edge(15_100.0))], [zone(party="coalition")]) == []


def test_ended_zone_is_no_alert() -> None:
    assert alerts_for([track(west_of_edge(15_100.0))], [ended(zone(), NOW)]) == []


def test_zone_of_another_kind_is_no_alert() -> None:
    assert alerts_for([track(west_of_edge(15_100.0))], [zone("air_operation")]) == []


def test_band_above_the_track_is_no_alert() -> None:
    assert alerts_for([track(west_of_edge(15_100.0))], [zone(lower=6_000, upper=9_000)]) == []


def test_band_touching_the_track_altitude_counts() -> None:
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [zone(lower=5_000, upper=9_000)])
    assert alert.closest_at == NOW + timedelta(seconds=75)


def test_other_reference_widens_the_band_by_the_mismatch_margin() -> None:
    below = 6_000.0 - REFERENCE_MISMATCH_MARGIN_M
    inside = [track(west_of_edge(15_100.0), altitude_m=below + 1.0, reference="W84")]
    outside = [track(west_of_edge(15_100.0), altitude_m=below - 1.0, reference="W84")]
    assert len(alerts_for(inside, [zone(lower=6_000, upper=9_000)])) == 1
    assert alerts_for(outside, [zone(lower=6_000, upper=9_000)]) == []


def test_climbing_track_enters_when_it_reaches_the_band() -> None:
    # Over the zone from 75.5 s to 125.5 s; at 8 m/s from 5,000 m it reaches 5,804 m at 100.5 s.
    climbing = track(west_of_edge(15_100.0), climb=8.0)
    (alert,) = alerts_for([climbing], [zone(lower=5_804, upper=9_000)])
    assert alert.closest_at == NOW + timedelta(seconds=100)
    band = alert.views["russia"]["altitude_band"]
    assert band["lower"] <= 5_804.0 <= band["upper"]
    assert band["upper"] - band["lower"] <= 30.48 + 1e-9


def test_climbing_track_that_leaves_the_zone_below_the_band_enters_nothing() -> None:
    # At 8 m/s it would reach 6,100 m only at 137.5 s, after leaving the zone at 125.5 s.
    climbing = track(west_of_edge(15_100.0), climb=8.0)
    assert alerts_for([climbing], [zone(lower=6_100, upper=9_000)]) == []


def test_strike_whose_window_opens_after_the_track_has_passed_is_no_alert() -> None:
    later = zone("strike", start=iso(NOW + timedelta(seconds=200)))
    assert alerts_for([track(west_of_edge(15_100.0))], [later]) == []


def test_strike_whose_window_opens_while_the_track_is_inside_alerts_at_the_opening() -> None:
    opening = zone("strike", start=iso(NOW + timedelta(seconds=100)))
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [opening])
    assert alert.closest_at == NOW + timedelta(seconds=100)


def test_track_already_inside_is_lost_at_once() -> None:
    (alert,) = alerts_for([track(0.0)], [zone()])
    assert alert.lost
    assert alert.closest_at == NOW
    assert alert.views["russia"]["entry_at"] == iso(NOW)


def test_hovering_track_outside_enters_nothing_and_inside_is_lost() -> None:
    assert alerts_for([track(west_of_edge(100.0), speed=0.0)], [zone()]) == []
    (alert,) = alerts_for([track(0.0, speed=0.0)], [zone()])
    assert alert.lost


@pytest.mark.parametrize(
    ("start_lon", "course", "edge_lon"),
    [(179.9, 90.0, 179.95), (-179.9, 270.0, -179.95)],
    ids=["from_the_west", "from_the_east"],
)
def test_zone_across_the_antimeridian_is_entered_from_either_side(
    start_lon: float, course: float, edge_lon: float
) -> None:
    across = {
        "type": "Polygon",
        "coordinates": [[[179.95, -0.05], [-179.95, -0.05], [-179.95, 0.05], [179.95, 0.05]]],
    }
    across["coordinates"][0].append(across["coordinates"][0][0])
    # 0.05° of the equator from the start to the edge, flown at 200 m/s.
    expected_s = 0.05 * EQUATOR_M_PER_DEG / SPEED
    assert GEOD.inv(start_lon, 0.0, edge_lon, 0.0)[2] == pytest.approx(expected_s * SPEED, abs=0.01)
    (alert,) = alerts_for([track(start_lon, course=course)], [zone(geometry=across)])
    assert alert.closest_at == NOW + timedelta(seconds=math.floor(expected_s))
    assert alert.views["coalition"]["place"] == {"lat": 0.0, "lon": edge_lon}


def test_point_zone_with_a_buffer_is_entered_at_its_radius() -> None:
    # A SAM site 40.1 km east with a 25 km ring: 15.1 km to go along the equator, 75.5 s.
    site = point(40_000.0 / EQUATOR_M_PER_DEG, 0.0)
    start = track(-100.0 / EQUATOR_M_PER_DEG)
    (alert,) = alerts_for([start], [zone(geometry=site, buffer_m=25_000)])
    assert alert.closest_at == NOW + timedelta(seconds=75)


def test_corridor_with_a_buffer_is_entered_at_the_buffer_distance() -> None:
    # A corridor along the meridian 0 with a 20 km buffer; the equator meets it square, so the
    # track enters 20 km short of the meridian: 15.1 km to go, 75.5 s.
    corridor = line((0.0, -1.0), (0.0, 1.0))
    start = track(-35_100.0 / EQUATOR_M_PER_DEG)
    (alert,) = alerts_for([start], [zone(geometry=corridor, buffer_m=20_000)])
    assert alert.closest_at == NOW + timedelta(seconds=75)
    assert alert.views["russia"]["place"] == {
        "lat": 0.0,
        "lon": round(-20_000.0 / EQUATOR_M_PER_DEG, 3),
    }


def test_first_of_several_volumes_of_one_declaration_is_one_alert() -> None:
    far = volume(box(0.5, -0.05, 0.6, 0.05), start=iso(NOW), end=iso(NOW + timedelta(hours=1)))
    near = volume(SQUARE, start=iso(NOW), end=iso(NOW + timedelta(hours=1)))
    body = declaration("air_defense_zone", "Belt", far, near)
    decl = parse_new(body, id="adz2", party="russia", now=NOW)
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [decl])
    assert alert.closest_at == NOW + timedelta(seconds=75)


def test_zone_owner_learns_party_place_time_and_band_but_not_the_track() -> None:
    viper = track(west_of_edge(15_100.0), track_id="VIPER11", speed=SPEED, course=90.0)
    (alert,) = alerts_for([viper], [zone()])
    owner = alert.views["russia"]
    assert set(owner) == {"declaration_id", "other_party", "entry_at", "place", "altitude_band"}
    assert owner["declaration_id"] == "adz1"
    assert owner["other_party"] == "coalition"
    assert "VIPER11" not in json.dumps(owner)


def test_track_party_is_not_told_the_id_of_a_zone_it_may_not_see() -> None:
    (alert,) = alerts_for([track(west_of_edge(15_100.0))], [zone()])
    own = alert.views["coalition"]
    assert set(alert.views) == {"coalition", "russia"}
    assert "declaration_id" not in own
    assert own["own_track"] == "VIPER11"
    assert own["other_party"] == "russia"
    assert "adz1" not in json.dumps(own)


# Conformance ---------------------------------------------------------------------------------


def operation(
    *, id: str = "op1", start: datetime, end: datetime, geometry: dict[str, Any] = SQUARE
) -> Declaration:
    body = declaration(
        "air_operation", "CAP", volume(geometry, start=iso(start), end=iso(end), upper=9_000)
    )
    return parse_new(body, id=id, party="coalition", now=start - timedelta(days=1))


def test_track_still_inside_its_own_operation_after_its_window_ended_is_nonconforming() -> None:
    over_at = NOW - timedelta(minutes=10)
    op = operation(start=NOW - timedelta(hours=2), end=over_at)
    (alert,) = alerts_for([track(0.0)], [op])
    assert alert.kind is AlertKind.CONFORMANCE
    assert alert.key == ("conformance", "coalition", "VIPER11", "op1")
    assert alert.lost
    assert set(alert.views) == {"coalition"}
    view = alert.views["coalition"]
    assert view["own_track"] == "VIPER11"
    assert view["declaration_id"] == "op1"
    assert view["ended_at"] == iso(over_at)
    assert view["place"] == {"lat": 0.0, "lon": 0.0}


def test_track_inside_an_operation_ended_early_is_nonconforming() -> None:
    op = ended(operation(start=NOW - timedelta(hours=2), end=NOW + timedelta(hours=2)), NOW)
    op_ended_before = ended(
        operation(start=NOW - timedelta(hours=2), end=NOW + timedelta(hours=2)),
        NOW - timedelta(minutes=5),
    )
    assert alerts_for([track(0.0)], [op]) == []  # ended this very moment: not yet over
    (alert,) = alerts_for([track(0.0)], [op_ended_before])
    assert alert.views["coalition"]["ended_at"] == iso(NOW - timedelta(minutes=5))


def test_a_new_active_operation_over_the_same_place_covers_the_track() -> None:
    old = operation(start=NOW - timedelta(hours=2), end=NOW - timedelta(minutes=10))
    new = operation(id="op2", start=NOW - timedelta(minutes=10), end=NOW + timedelta(hours=1))
    assert alerts_for([track(0.0)], [old, new]) == []


def test_track_outside_the_ended_volume_or_of_another_party_is_conforming() -> None:
    op = operation(start=NOW - timedelta(hours=2), end=NOW - timedelta(minutes=10))
    assert alerts_for([track(west_of_edge(1_000.0), course=270.0)], [op]) == []
    assert alerts_for([track(0.0, party="russia")], [op]) == []
    assert alerts_for([track(0.0, altitude_m=9_500.0)], [op]) == []


def test_operation_over_before_the_horizon_flags_nothing() -> None:
    old = operation(start=NOW - timedelta(days=90), end=NOW - timedelta(days=60))
    assert alerts_for([track(0.0)], [old]) == []
    assert len(alerts_for([track(0.0)], [old], conformance_horizon=timedelta(days=61))) == 1


def test_lookahead_must_be_a_finite_non_negative_number() -> None:
    picture = picture_at([track(0.0)], NOW)
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="lookahead_s"):
            zone_alerts(picture, [zone()], bad)


# Against a brute-force oracle ----------------------------------------------------------------

ORACLE_STEP_S = 0.1
ORACLE_SLACK_M = 2.0
"""How early an entry may be reported: the distance tolerance and the circumscribed arcs."""


ORACLE_EXAMPLES = 200


def test_entry_into_a_ring_agrees_with_dense_sampling() -> None:
    """A ring around a point is the set within ``buffer_m`` of it: the oracle samples the path
    every 0.1 s and measures with Karney's geodesic solver. The reported entry is never after
    the first sample inside, and the path comes within the ring, but for the stated slack, in
    the second reported."""
    totals = {"entered": 0, "lost": 0, "clear": 0}

    @settings(
        max_examples=ORACLE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        lon=st.floats(-180.0, 180.0),
        lat=st.floats(-80.0, 80.0),
        buffer_m=st.floats(1_000.0, 200_000.0),
        gap_m=st.floats(-20_000.0, 150_000.0),
        bearing=st.floats(0.0, 360.0),
        aim_off=st.floats(-60.0, 60.0),
        speed=st.floats(0.0, 1_000.0),
    )
    def check(
        lon: float,
        lat: float,
        buffer_m: float,
        gap_m: float,
        bearing: float,
        aim_off: float,
        speed: float,
    ) -> None:
        # Start ``gap_m`` outside the ring, heading ``aim_off`` degrees off the site.
        t_lon, t_lat, back = GEOD.fwd(lon, lat, bearing, max(buffer_m + gap_m, 0.0))
        course = float(back + aim_off) % 360.0
        tr = track(float(t_lon), float(t_lat), speed=speed, course=course, altitude_m=1_000.0)
        found = alerts_for([tr], [zone(geometry=point(lon, lat), buffer_m=buffer_m)])
        inside = np.flatnonzero(_distances(tr, speed, course, lon, lat, ORACLE_TIMES) <= buffer_m)
        if not found:
            assert inside.shape[0] == 0, f"missed an entry at {ORACLE_TIMES[inside[0]]} s"
            totals["clear"] += 1
            return
        (alert,) = found
        totals["lost" if alert.lost else "entered"] += 1
        reported_s = (alert.closest_at - NOW).total_seconds()  # whole seconds, rounded down
        if inside.shape[0]:
            assert reported_s <= ORACLE_TIMES[inside[0]]
        second = np.linspace(reported_s, reported_s + 1.0, 1_001)
        near = _distances(tr, speed, course, lon, lat, second)
        assert float(np.min(near)) <= buffer_m + ORACLE_SLACK_M

    check()
    # The property says something only if paths entered, started inside and stayed clear.
    assert min(totals.values()) >= ORACLE_EXAMPLES // 20, totals


ORACLE_TIMES = np.arange(0.0, LOOKAHEAD_S + ORACLE_STEP_S / 2, ORACLE_STEP_S)


def _distances(tr: Track, speed: float, course: float, lon: float, lat: float, times: Any) -> Any:
    n = times.shape[0]
    p_lon, p_lat, _ = GEOD.fwd(
        np.full(n, tr.lon), np.full(n, tr.lat), np.full(n, course), speed * times
    )
    return np.asarray(GEOD.inv(p_lon, p_lat, np.full(n, lon), np.full(n, lat))[2])
