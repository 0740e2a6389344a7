"""Predicted loss of separation between tracks (``deconflict.separation``).

Four layers:

* hand-built encounters whose loss interval, closest approach and altitude difference follow
  from the geometry by hand (distances along one geodesic, speeds, rates), run through both
  ``detect`` and the brute-force oracle of ``tests/track_oracle.py`` (which checks the oracle);
* random traffic — crowded or sparse, at mid and high latitudes, around the pole and across the
  antimeridian — on which ``detect`` must agree with the oracle wherever the flat pair plane of
  the detector cannot tip the verdict;
* larger random traffic on which the cell index must lose no pair that solving every pair finds;
* a memory budget for the cell index when a few reports fly at the limits that are accepted.

Tolerances. The oracle moves aircraft along geodesics and measures geodesic distances, so on the
hand-built cases it is held to 5 cm (its time resolution is a microsecond, and the hand
arithmetic near a crossing point treats the last few kilometres as flat, a millimetre effect).
The detector solves each pair in the plane tangent at the midpoint of the two positions, with
straight motion: each aircraft's projected position drifts from its projected geodesic by
``D·s²/2R² + s³/6R²`` (``D`` its distance from the midpoint, ``s`` the distance flown) and
distances near a point ``θ = (D + s)/R`` from the midpoint shrink by up to ``d·θ²/2``.
:func:`flat_model_error_m` adds these up with ``R`` the smallest radius of curvature of WGS84;
for two aircraft 150 km apart meeting at 250 m/s after five minutes it allows 17 m, and the
detector is observed 7 m off there (a few metres at 150 km, as its docstring says). Times are
allowed that distance divided by the rate at which the pair closes.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st
from pyproj import Geod

from deconflict.separation import Encounters, Separation, Traffic, detect, solve_pairs
from track_oracle import Aircraft, Oracle, PairVerdict

GEOD = Geod(ellps="WGS84")

# The rules restated (src/deconflict/separation.py, src/deconflict/units.py): touching does not
# count. Separation is lost only closer than the horizontal minimum less half a metre of slack
# and with altitudes less than the vertical minimum less a millimetre apart (110 m more between
# W84 and AMSL altitudes), so exactly at a minimum, or within the slack inside it, is separated.
HORIZONTAL_M = 5 * 1852.0
VERTICAL_M = 1000 * 0.3048
S_H = HORIZONTAL_M - 0.5
S_V = VERTICAL_M - 0.001
MIXED_REFERENCE_M = 110.0
LOOKAHEAD_S = 300.0

R_MIN_M = 6_335_000.0
"""Smallest radius of curvature of WGS84 (meridian, at the equator)."""
ORACLE_TOL_M = 0.05
ORACLE_TOL_S = 1e-4


def flat_model_error_m(distance_m: float, reach_a_m: float, reach_b_m: float, d_m: float) -> float:
    """Bound on how far the detector's flat pair plane may put a horizontal distance of about
    ``d_m`` from the geodesic one, for a pair ``distance_m`` apart now that fly at most
    ``reach_a_m`` and ``reach_b_m`` within the look-ahead (see the module docstring)."""
    half = distance_m / 2
    drift = sum(half * s * s / 2 + s**3 / 6 for s in (reach_a_m, reach_b_m))
    theta_r = half + max(reach_a_m, reach_b_m)
    # A centimetre more for rounding in the two models.
    return (drift + d_m * theta_r**2 / 2) / R_MIN_M**2 + 0.01


def traffic_of(aircraft: Sequence[Aircraft]) -> Traffic:
    def column(name: str) -> np.ndarray:
        return np.array([getattr(ac, name) for ac in aircraft], np.float64)

    return Traffic(
        party=np.array([ac.party for ac in aircraft], np.int64),
        lat_deg=column("lat_deg"),
        lon_deg=column("lon_deg"),
        altitude_m=column("altitude_m"),
        ground_speed_mps=column("ground_speed_mps"),
        track_deg=column("track_deg"),
        vertical_rate_mps=column("vertical_rate_mps"),
        reference=np.array([{"W84": 0, "AMSL": 1}[ac.reference] for ac in aircraft], np.int8),
    )


def rows(found: Encounters) -> dict[tuple[int, int], int]:
    return {(int(a), int(b)): i for i, (a, b) in enumerate(zip(found.a, found.b, strict=True))}


def toward(
    meet: tuple[float, float],
    course_deg: float,
    flown_m: float,
    speed_mps: float,
    *,
    party: int = 0,
    altitude_m: float = 3000.0,
    rate_mps: float = 0.0,
    reference: str = "W84",
) -> Aircraft:
    """An aircraft that reaches ``meet`` (lon, lat) after flying ``flown_m`` along a geodesic,
    arriving there on ``course_deg``."""
    lon, lat, back = GEOD.fwd(meet[0], meet[1], course_deg + 180.0, flown_m)
    # The back azimuth at the start points along the geodesic to the meeting point.
    return Aircraft(party, lat, lon, altitude_m, speed_mps, back % 360.0, rate_mps, reference)


def ahead_of(ac: Aircraft, distance_m: float, bearing_deg: float, **changes: object) -> Aircraft:
    """Another party's aircraft ``distance_m`` from ``ac`` on the geodesic leaving it on
    ``bearing_deg``, flying on along that geodesic."""
    lon, lat, back = GEOD.fwd(ac.lon_deg, ac.lat_deg, bearing_deg, distance_m)
    moved = replace(ac, party=ac.party + 1, lon_deg=lon, lat_deg=lat, track_deg=(back + 180) % 360)
    return replace(moved, **changes)


# -- hand-built encounters ------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    t_in_s: float
    tcpa_s: float | None
    """``None``: the distance changes by less than the tolerance during the loss, so any
    moment of it is closest."""
    dcpa_m: float
    t_out_s: float = math.inf
    """``inf``: still lost when the look-ahead ends."""


@dataclass(frozen=True)
class Case:
    id: str
    a: Aircraft
    b: Aircraft
    expect: Expect | None
    closing_mps: float = 400.0
    """How fast the horizontal distance changes at the boundary, for time tolerances."""
    lookahead_s: float = LOOKAHEAD_S


MID = (10.0, 45.0)
V = 200.0  # m/s, both aircraft unless a case says otherwise


def head_on(
    distance_m: float, meet: tuple[float, float] = MID, **b: object
) -> tuple[Aircraft, Aircraft]:
    """Two aircraft ``distance_m`` apart on one geodesic, meeting at ``meet``."""
    a = toward(meet, 90.0, distance_m / 2, V)
    other = toward(meet, 270.0, distance_m / 2, V, party=1)
    return a, replace(other, **b)


CLIMB_MEET = head_on(100_000.0)
POLE_M = GEOD.inv(0.0, 89.9, 0.0, 90.0)[2]  # from 89.9° to the pole along a meridian
IN_TRAIL = Aircraft(0, 52.0, 4.0, 3000.0, V, 30.0, 0.0)
WESTBOUND = Aircraft(0, 52.0, 4.0, 3000.0, V, 270.0, 0.0)
NORTHBOUND = Aircraft(0, 0.0, 4.0, 3000.0, V, 0.0, 0.0)
HOVER = Aircraft(0, 52.0, 4.0, 3000.0, 0.0, 0.0, 0.0)
HOVER_NEARBY = ahead_of(HOVER, 1000.0, 0.0, ground_speed_mps=0.0)

CASES = [
    # Closing at 2v from D: closest (0 m) at D / 2v, lost while D - 2v·t is within S_H.
    Case(
        "head_on",
        *head_on(80_000.0),
        Expect(t_in_s=(80_000 - S_H) / 400, tcpa_s=200.0, dcpa_m=0.0, t_out_s=(80_000 + S_H) / 400),
    ),
    # Both reach the crossing point after 200 s; relative speed √(200² + 150²) = 250 m/s.
    Case(
        "crossing_at_right_angles",
        toward(MID, 0.0, 40_000.0, 200.0),
        toward(MID, 90.0, 30_000.0, 150.0, party=1),
        Expect(t_in_s=200 - S_H / 250, tcpa_s=200.0, dcpa_m=0.0, t_out_s=200 + S_H / 250),
        closing_mps=250.0,
    ),
    # 250 m/s catching 150 m/s from 20 km behind on the same geodesic: closing at 100 m/s.
    Case(
        "overtaking",
        toward(MID, 60.0, 50_000.0, 250.0),
        toward(MID, 60.0, 30_000.0, 150.0, party=1),
        Expect(t_in_s=200 - S_H / 100, tcpa_s=200.0, dcpa_m=0.0, t_out_s=200 + S_H / 100),
        closing_mps=100.0,
    ),
    # Head-on meeting at 250 s (horizontally lost from 250 - S_H/400); a starts 1000 m below b
    # and climbs at 5.5 m/s, so the vertical loss is (1000 ∓ S_V) / 5.5: it ends at 237.24 s,
    # before the meeting, and the closest approach while lost is then, 400 · (250 - t) apart.
    Case(
        "climbing_through_level_before_meeting",
        replace(CLIMB_MEET[0], vertical_rate_mps=5.5),
        replace(CLIMB_MEET[1], altitude_m=4000.0),
        Expect(
            t_in_s=250 - S_H / 400,
            tcpa_s=(1000 + S_V) / 5.5,
            dcpa_m=400 * (250 - (1000 + S_V) / 5.5),
            t_out_s=(1000 + S_V) / 5.5,
        ),
    ),
    # Same meeting, climbing at 3 m/s: the vertical loss starts at (1000 - S_V) / 3 = 231.7 s,
    # inside the horizontal one, and outlasts it.
    Case(
        "climbing_into_level_while_closing",
        replace(CLIMB_MEET[0], vertical_rate_mps=3.0),
        replace(CLIMB_MEET[1], altitude_m=4000.0),
        Expect(t_in_s=(1000 - S_V) / 3, tcpa_s=250.0, dcpa_m=0.0, t_out_s=250 + S_H / 400),
    ),
    # Hovering 1 km apart, 1000 m apart in height, closing vertically at 10 + 5 m/s.
    Case(
        "hovering_one_climbs_one_descends",
        replace(HOVER, vertical_rate_mps=10.0),
        replace(HOVER_NEARBY, altitude_m=4000.0, vertical_rate_mps=-5.0),
        Expect(t_in_s=(1000 - S_V) / 15, tcpa_s=None, dcpa_m=1000.0, t_out_s=(1000 + S_V) / 15),
    ),
    # One geodesic, same speed: the distance along it never changes. Exactly at the minimum is
    # separated (touching does not count).
    Case(
        "in_trail_exactly_the_separation_apart",
        IN_TRAIL,
        ahead_of(IN_TRAIL, HORIZONTAL_M, 30.0),
        None,
    ),
    # Along one geodesic at one speed the two velocities differ only by the turn of the
    # tangent over 9 km, almost all of it normal to the pair plane: the plane keeps the gap to
    # well under a decimetre over the look-ahead, so the half metre of slack can be tested.
    Case(
        "in_trail_within_the_slack_inside_the_separation",
        IN_TRAIL,
        ahead_of(IN_TRAIL, HORIZONTAL_M - 0.4, 30.0),
        None,
    ),
    Case(
        "in_trail_just_past_the_slack_inside_the_separation",
        IN_TRAIL,
        ahead_of(IN_TRAIL, HORIZONTAL_M - 0.6, 30.0),
        Expect(t_in_s=0.0, tcpa_s=None, dcpa_m=HORIZONTAL_M - 0.6),
    ),
    Case(
        "in_trail_10_m_inside_the_separation",
        IN_TRAIL,
        ahead_of(IN_TRAIL, HORIZONTAL_M - 10, 30.0),
        Expect(t_in_s=0.0, tcpa_s=None, dcpa_m=HORIZONTAL_M - 10),
    ),
    # Side by side heading north from the equator, 5 NM apart: the meridians converge, so the
    # gap only narrows, to 9260 m · cos(φ) at the latitude φ reached after 60 km (the meridian's
    # radius of curvature at the equator is b²/a = 6,335,439 m): 0.415 m less, within the 0.5 m
    # of slack (the parallel's radius growing with latitude gives back 3 mm more), so the pair
    # stays separated throughout the five minutes. (It would fall below 9259.5 m after about
    # 330 s.)
    Case(
        "abreast_on_converging_meridians_from_exactly_the_separation",
        NORTHBOUND,
        ahead_of(NORTHBOUND, HORIZONTAL_M, 90.0, track_deg=0.0),
        None,
    ),
    Case(
        "abreast_on_converging_meridians_from_10_m_inside_the_separation",
        NORTHBOUND,
        ahead_of(NORTHBOUND, HORIZONTAL_M - 10, 90.0, track_deg=0.0),
        Expect(
            t_in_s=0.0,
            tcpa_s=None,
            dcpa_m=(HORIZONTAL_M - 10) * math.cos(V * LOOKAHEAD_S / 6_335_439),
        ),
    ),
    # Back to back, flying apart at 400 m/s: from exactly the separation never lost; from 10 m
    # inside it, lost until the gap has opened to S_H, 9.5 m later.
    Case(
        "back_to_back_at_exactly_the_separation_flying_apart",
        WESTBOUND,
        ahead_of(WESTBOUND, HORIZONTAL_M, 90.0),
        None,
    ),
    Case(
        "back_to_back_10_m_inside_the_separation_flying_apart",
        WESTBOUND,
        ahead_of(WESTBOUND, HORIZONTAL_M - 10, 90.0),
        Expect(t_in_s=0.0, tcpa_s=0.0, dcpa_m=HORIZONTAL_M - 10, t_out_s=9.5 / 400),
    ),
    # Head-on, losing separation 1 s after the look-ahead ends (no alert) or 1 s before it.
    Case("head_on_meeting_just_after_the_lookahead", *head_on(400 * 301 + S_H), None),
    Case(
        "head_on_meeting_just_before_the_lookahead",
        *head_on(400 * 299 + S_H),
        Expect(
            t_in_s=299.0,
            tcpa_s=300.0,
            dcpa_m=400 * 299 + S_H - 400 * 300,
            t_out_s=(400 * 299 + 2 * S_H) / 400,
        ),
    ),
    Case(
        "already_lost_now",
        *head_on(3_000.0),
        Expect(t_in_s=0.0, tcpa_s=3000 / 400, dcpa_m=0.0, t_out_s=(3000 + S_H) / 400),
    ),
    # Meeting on the antimeridian: one starts at 179.91° E, the other at 179.91° W.
    Case(
        "head_on_across_the_antimeridian",
        *head_on(20_000.0, meet=(180.0, 10.0)),
        Expect(t_in_s=(20_000 - S_H) / 400, tcpa_s=50.0, dcpa_m=0.0, t_out_s=(20_000 + S_H) / 400),
    ),
    Case(
        "crossing_on_the_antimeridian",
        toward((180.0, -60.0), 0.0, 30_000.0, 200.0),
        toward((180.0, -60.0), 90.0, 22_500.0, 150.0, party=1),
        Expect(t_in_s=150 - S_H / 250, tcpa_s=150.0, dcpa_m=0.0, t_out_s=150 + S_H / 250),
        closing_mps=250.0,
    ),
    # Both report track 0° (due north) on opposite meridians at 89.9°: head-on over the pole.
    Case(
        "head_on_over_the_pole",
        Aircraft(0, 89.9, 0.0, 3000.0, V, 0.0, 0.0),
        Aircraft(1, 89.9, 180.0, 3000.0, V, 0.0, 0.0),
        Expect(
            t_in_s=(2 * POLE_M - S_H) / 400,
            tcpa_s=POLE_M / V,
            dcpa_m=0.0,
            t_out_s=(2 * POLE_M + S_H) / 400,
        ),
    ),
    # Track 0° on meridians 90° apart, one just east of the antimeridian: they cross at right
    # angles over the pole at POLE_M / v, closing at v·√2.
    Case(
        "crossing_over_the_pole",
        Aircraft(0, 89.9, 179.9, 3000.0, V, 0.0, 0.0),
        Aircraft(1, 89.9, -90.1, 3000.0, V, 0.0, 0.0),
        Expect(
            t_in_s=POLE_M / V - S_H / (V * math.sqrt(2)),
            tcpa_s=POLE_M / V,
            dcpa_m=0.0,
            t_out_s=POLE_M / V + S_H / (V * math.sqrt(2)),
        ),
        closing_mps=V * math.sqrt(2),
    ),
    Case("same_party_head_on", *head_on(20_000.0, party=0), None),
    # Stacked on adjacent flight levels exactly 1000 ft apart (1500 ft and 2500 ft, in metres):
    # separated. Within the millimetre of slack inside the minimum too; a centimetre inside it,
    # lost.
    Case(
        "stacked_on_adjacent_flight_levels_exactly_1000_ft_apart",
        replace(HOVER, altitude_m=1500 * 0.3048),
        replace(HOVER_NEARBY, altitude_m=2500 * 0.3048),
        None,
    ),
    Case(
        "stacked_within_the_slack_inside_the_vertical_separation",
        HOVER,
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M - 0.0005),
        None,
    ),
    Case(
        "stacked_a_centimetre_inside_the_vertical_separation",
        HOVER,
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M - 0.01),
        Expect(t_in_s=0.0, tcpa_s=None, dcpa_m=1000.0),
    ),
    Case(
        "stacked_within_the_reference_margin",
        HOVER,
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M + 100, reference="AMSL"),
        Expect(t_in_s=0.0, tcpa_s=None, dcpa_m=1000.0),
    ),
    # AMSL below W84 exactly the vertical minimum plus the margin apart: separated.
    Case(
        "stacked_exactly_the_separation_plus_the_reference_margin_apart",
        replace(HOVER, reference="AMSL"),
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M + MIXED_REFERENCE_M),
        None,
    ),
    Case(
        "stacked_beyond_the_reference_margin",
        HOVER,
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M + 120, reference="AMSL"),
        None,
    ),
    Case(
        "same_reference_gets_no_margin",
        replace(HOVER, reference="AMSL"),
        replace(HOVER_NEARBY, altitude_m=3000 + VERTICAL_M + 100, reference="AMSL"),
        None,
    ),
]


CASES_BY_ID = {c.id: c for c in CASES}


def case_error_m(case: Case) -> float:
    distance = GEOD.inv(case.a.lon_deg, case.a.lat_deg, case.b.lon_deg, case.b.lat_deg)[2]
    reach = [ac.ground_speed_mps * case.lookahead_s for ac in (case.a, case.b)]
    return flat_model_error_m(distance, reach[0], reach[1], S_H)


@dataclass(frozen=True)
class Found:
    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_m: float
    dz_m: float


def found_by_detect(case: Case) -> Found | None:
    separation = Separation(HORIZONTAL_M, VERTICAL_M, case.lookahead_s)
    found = detect(traffic_of([case.a, case.b]), separation)
    assert len(found) <= 1
    if not len(found):
        return None
    assert (int(found.a[0]), int(found.b[0])) == (0, 1)
    return Found(
        float(found.t_in_s[0]),
        float(found.t_out_s[0]),
        float(found.tcpa_s[0]),
        float(found.dcpa_m[0]),
        float(found.dz_m[0]),
    )


def found_by_oracle(case: Case) -> Found | None:
    oracle = Oracle(
        [case.a, case.b],
        horizontal_m=HORIZONTAL_M,
        vertical_m=VERTICAL_M,
        lookahead_s=case.lookahead_s,
    )
    verdicts = oracle.pairs()
    if not verdicts or verdicts[0].loss is None:
        return None
    loss = verdicts[0].loss
    return Found(loss.t_in_s, loss.t_out_s, loss.tcpa_s, loss.dcpa_m, loss.dz_m)


def check_against_hand(case: Case, found: Found | None, tol_m: float, tol_s: float) -> None:
    if case.expect is None:
        assert found is None
        return
    assert found is not None
    expect = case.expect
    assert found.t_in_s == pytest.approx(expect.t_in_s, abs=tol_s)
    assert found.dcpa_m == pytest.approx(expect.dcpa_m, abs=tol_m)
    if math.isinf(expect.t_out_s):
        assert found.t_out_s >= case.lookahead_s - tol_s
    else:
        assert found.t_out_s == pytest.approx(expect.t_out_s, abs=tol_s)
    if expect.tcpa_s is None:
        assert found.t_in_s - tol_s <= found.tcpa_s <= min(found.t_out_s, case.lookahead_s) + tol_s
    else:
        assert found.tcpa_s == pytest.approx(expect.tcpa_s, abs=tol_s)
    # The altitude difference at closest approach follows from the reports and the rates.
    dz = case.b.altitude_m - case.a.altitude_m
    dz += (case.b.vertical_rate_mps - case.a.vertical_rate_mps) * found.tcpa_s
    assert found.dz_m == pytest.approx(dz, abs=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_detect_matches_the_hand_built_encounter(case: Case) -> None:
    tol_m = case_error_m(case)
    check_against_hand(case, found_by_detect(case), tol_m, tol_m / case.closing_mps + 1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_oracle_matches_the_hand_built_encounter(case: Case) -> None:
    oracle_found = found_by_oracle(case)
    if oracle_found is not None:
        # The oracle knows only the look-ahead.
        oracle_found = replace(
            oracle_found,
            t_out_s=math.inf if oracle_found.t_out_s >= case.lookahead_s else oracle_found.t_out_s,
        )
    expect = case.expect
    if expect is not None and expect.t_out_s > case.lookahead_s:
        case = replace(case, expect=replace(expect, t_out_s=math.inf))
    check_against_hand(
        case, oracle_found, ORACLE_TOL_M, ORACLE_TOL_S + ORACLE_TOL_M / case.closing_mps
    )


def test_hand_built_scenarios_sit_where_their_names_say() -> None:
    by_id = CASES_BY_ID
    across = by_id["head_on_across_the_antimeridian"]
    assert across.a.lon_deg == pytest.approx(179.91, abs=0.01)
    assert across.b.lon_deg == pytest.approx(-179.91, abs=0.01)
    crossing = by_id["crossing_on_the_antimeridian"]
    assert crossing.b.lon_deg > 179.0
    over = by_id["crossing_over_the_pole"]
    assert (over.a.track_deg, over.b.track_deg) == (0.0, 0.0)
    trail = by_id["in_trail_exactly_the_separation_apart"]
    gap = GEOD.inv(trail.a.lon_deg, trail.a.lat_deg, trail.b.lon_deg, trail.b.lat_deg)[2]
    assert gap == pytest.approx(HORIZONTAL_M, abs=1e-6)
    stacked = by_id["stacked_on_adjacent_flight_levels_exactly_1000_ft_apart"]
    assert stacked.b.altitude_m - stacked.a.altitude_m == pytest.approx(VERTICAL_M, abs=1e-9)


def test_meridians_converge_by_less_than_the_slack_within_the_lookahead() -> None:
    """The hand arithmetic of the abreast cases, against pyproj's geodesics: after 300 s the
    gap from 5 NM is 9260 m · cos(φ) (within the parallel's few millimetres), above S_H; after
    a look-ahead of 400 s it would be below."""
    a = CASES_BY_ID["abreast_on_converging_meridians_from_exactly_the_separation"].a
    b = CASES_BY_ID["abreast_on_converging_meridians_from_exactly_the_separation"].b

    def gap_m(t: float) -> float:
        lon_a, lat_a, _ = GEOD.fwd(a.lon_deg, a.lat_deg, a.track_deg, V * t)
        lon_b, lat_b, _ = GEOD.fwd(b.lon_deg, b.lat_deg, b.track_deg, V * t)
        return float(GEOD.inv(lon_a, lat_a, lon_b, lat_b)[2])

    at_lookahead = gap_m(LOOKAHEAD_S)
    assert at_lookahead == pytest.approx(
        HORIZONTAL_M * math.cos(V * LOOKAHEAD_S / 6_335_439), abs=0.005
    )
    assert S_H + 0.05 < at_lookahead < HORIZONTAL_M - 0.4
    assert gap_m(400.0) < S_H - 0.1


# -- random traffic against the oracle -------------------------------------------------------

REGIONS = {
    "mid_latitude": (10.0, 45.0),
    "high_latitude": (-30.0, 75.0),
    "north_pole": (40.0, 89.7),  # the pole lies 33 km from the centre
    "south_pole": (-120.0, -89.8),
    "antimeridian": (180.0, 20.0),
    "antimeridian_far_south": (179.95, -65.0),
}


@dataclass(frozen=True)
class Scene:
    region: str
    aircraft: tuple[Aircraft, ...]
    horizontal_m: float
    vertical_m: float
    lookahead_s: float

    @property
    def separation(self) -> Separation:
        return Separation(self.horizontal_m, self.vertical_m, self.lookahead_s)


@st.composite
def scenes(draw: st.DrawFn, region: str) -> Scene:
    """Three to eight aircraft of three parties within 15, 50 or 120 km of the region's centre;
    about half of them head for the centre give or take 20°, so that many pairs come close.
    Altitudes sit on a 500 ft grid, often exactly, so that pairs exactly at the vertical minimum
    (adjacent flight levels: separated) are common."""
    centre = REGIONS[region]
    radius = draw(st.sampled_from([15_000.0, 50_000.0, 120_000.0]))
    aircraft = []
    for _ in range(draw(st.integers(3, 8))):
        bearing = draw(st.floats(0.0, 360.0))
        lon, lat, back = GEOD.fwd(*centre, bearing, radius * draw(st.floats(0.0, 1.0)))
        if draw(st.booleans()):
            track = (back + draw(st.floats(-20.0, 20.0))) % 360.0
        else:
            track = draw(st.floats(0.0, 360.0, exclude_max=True))
        # One in six hovers.
        speed = draw(st.floats(30.0, 300.0)) if draw(st.integers(0, 5)) else 0.0
        altitude = 3000.0 + 152.4 * draw(st.integers(0, 4))
        altitude += draw(st.sampled_from([0.0]) | st.floats(-60.0, 60.0))
        aircraft.append(
            Aircraft(
                party=draw(st.integers(0, 2)),
                lat_deg=lat,
                lon_deg=lon,
                altitude_m=altitude,
                ground_speed_mps=speed,
                track_deg=track,
                vertical_rate_mps=draw(st.sampled_from([0.0, 5.0, -5.0]) | st.floats(-15.0, 15.0)),
                reference=draw(st.sampled_from(["W84", "W84", "AMSL"])),
            )
        )
    return Scene(
        region,
        tuple(aircraft),
        horizontal_m=draw(st.sampled_from([HORIZONTAL_M, 3 * 1852.0, 1852.0])),
        vertical_m=draw(st.sampled_from([VERTICAL_M, 500 * 0.3048])),
        lookahead_s=draw(st.sampled_from([120.0, 300.0])),
    )


def pair_error_m(scene: Scene, verdict: PairVerdict) -> float:
    a, b = scene.aircraft[verdict.a], scene.aircraft[verdict.b]
    distance = GEOD.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)[2]
    return flat_model_error_m(
        distance,
        a.ground_speed_mps * scene.lookahead_s,
        b.ground_speed_mps * scene.lookahead_s,
        scene.horizontal_m - 0.5,
    )


BISECTION_S = 1e-5  # the oracle resolves boundaries to a microsecond


@pytest.mark.parametrize("region", sorted(REGIONS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_detect_agrees_with_the_oracle_on_random_traffic(region: str, data: st.DataObject) -> None:
    """Same pairs as the oracle, except where the detector's plane may tip the verdict: where
    the oracle's verdict changes when its horizontal limit (the minimum less the half-metre
    slack) is widened or narrowed by the flat-model error. Only the horizontal distance carries
    that error; altitudes are linear in both models, so a pair stacked exactly at the vertical
    minimum, a millimetre outside the lowered one, is asserted separated however close it comes
    horizontally. The oracle's own error (a millimetre: boundaries and minima are refined to a
    microsecond at most a kilometre a second) is far inside the band.

    On the pairs lost clearly, the closest approach must agree within the same band, the
    detector's moment of closest approach must be (nearly) closest by the oracle's geodesics,
    and its moment of loss must lie between the oracle's first moment within the band and its
    first moment beyond it."""
    scene = data.draw(scenes(region))
    oracle = Oracle(
        scene.aircraft,
        horizontal_m=scene.horizontal_m,
        vertical_m=scene.vertical_m,
        lookahead_s=scene.lookahead_s,
    )
    found = detect(traffic_of(scene.aircraft), scene.separation)
    got = rows(found)
    verdicts = oracle.pairs()
    assert set(got) <= {(v.a, v.b) for v in verdicts}
    for verdict in verdicts:
        key = (verdict.a, verdict.b)
        band = pair_error_m(scene, verdict)
        if abs(verdict.margin_m) <= band:
            # Lost even with the limit narrowed by the band, or kept even with it widened.
            if oracle.least_excess(*key, -band)[1] < 0.0:
                event("lost pair near the band, asserted")
                assert key in got, (key, verdict)
            elif oracle.least_excess(*key, band)[1] >= 0.0:
                event("separated pair near the band, asserted")
                assert key not in got, (key, verdict)
            else:
                event("pair within the band, not asserted")
            continue
        assert (key in got) == (verdict.loss is not None), (key, verdict)
        if verdict.loss is None:
            continue
        event("lost pair compared")
        i = got[key]
        a, b = key
        assert float(found.dcpa_m[i]) == pytest.approx(verdict.loss.dcpa_m, abs=band)
        tcpa = float(found.tcpa_s[i])
        assert oracle.at(oracle.distance_m, a, b, tcpa) <= verdict.loss.dcpa_m + 2 * band
        assert float(found.dz_m[i]) == pytest.approx(oracle.at(oracle.dz_m, a, b, tcpa), abs=1e-6)
        earliest = oracle.first_within(a, b, band)
        latest = oracle.first_within(a, b, -band)
        assert earliest is not None
        assert latest is not None
        assert earliest - BISECTION_S <= float(found.t_in_s[i]) <= latest + BISECTION_S


# -- the cell index loses nothing ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(100, 500),
    centre=st.sampled_from(sorted(REGIONS.values())),
    radius_m=st.sampled_from([50_000.0, 5_000.0, 300_000.0, 2_000_000.0]),
    top_speed_mps=st.sampled_from([250.0, 60.0, 600.0]),
    fast_share=st.sampled_from([0.02, 0.0, 0.1]),
    hovering_share=st.sampled_from([0.0, 0.3]),
    climbing_share=st.sampled_from([0.5, 0.0, 1.0]),
    parties=st.integers(2, 4),
    amsl_share=st.sampled_from([0.3, 0.0, 1.0]),
    horizontal_m=st.sampled_from([HORIZONTAL_M, 1852.0, 50_000.0, 500.0]),
    vertical_m=st.sampled_from([VERTICAL_M, 150.0, 600.0, 0.0]),
    lookahead_s=st.sampled_from([300.0, 120.0, 1200.0, 30.0, 0.0]),
)
def test_the_cell_index_loses_no_pair_that_solving_every_pair_finds(
    seed: int,
    count: int,
    centre: tuple[float, float],
    radius_m: float,
    top_speed_mps: float,
    fast_share: float,
    hovering_share: float,
    climbing_share: float,
    parties: int,
    amsl_share: float,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
) -> None:
    """Hundreds of aircraft scattered over a disc 5 km to 2,000 km in radius; speeds up to a
    top speed, a share of them very fast (600 to 2,000 m/s), some hovering; half of them on
    300 m flight levels (so that even a zero vertical minimum is met), climbing or not."""
    rng = np.random.default_rng(seed)
    lon, lat, _ = GEOD.fwd(
        np.full(count, centre[0]),
        np.full(count, centre[1]),
        rng.uniform(0.0, 360.0, count),
        radius_m * np.sqrt(rng.uniform(size=count)),
    )
    speed = rng.uniform(0.0, top_speed_mps, count)
    fast = rng.uniform(size=count) < fast_share
    speed[fast] = rng.uniform(600.0, 2000.0, int(fast.sum()))
    speed[rng.uniform(size=count) < hovering_share] = 0.0
    climbing = rng.uniform(size=count) < climbing_share
    traffic = Traffic(
        party=rng.integers(0, parties, count).astype(np.int64),
        lat_deg=np.asarray(lat, np.float64),
        lon_deg=np.asarray(lon, np.float64),
        altitude_m=np.where(
            rng.uniform(size=count) < 0.5,
            300.0 * rng.integers(0, 20, count),
            rng.uniform(-500.0, 6000.0, count),
        ),
        ground_speed_mps=speed,
        track_deg=rng.uniform(0.0, 360.0, count),
        vertical_rate_mps=np.where(climbing, rng.uniform(-50.0, 50.0, count), 0.0),
        reference=(rng.uniform(size=count) < amsl_share).astype(np.int8),
    )
    separation = Separation(horizontal_m, vertical_m, lookahead_s)
    a, b = np.triu_indices(count, 1)
    every = solve_pairs(traffic, separation, a.astype(np.int64), b.astype(np.int64))
    found = detect(traffic, separation)
    event("some pairs lost" if len(every) else "no pair lost")
    target(float(len(every)), label="pairs lost")
    assert sorted(rows(found)) == sorted(rows(every))
    order_found = np.lexsort((found.b, found.a))
    order_every = np.lexsort((every.b, every.a))
    for name in ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m"):
        np.testing.assert_array_equal(
            getattr(found, name)[order_found], getattr(every, name)[order_every]
        )


# -- resources -------------------------------------------------------------------------------

MEMORY_CHILD = """
import resource, sys
import numpy as np
from deconflict.separation import Separation, Traffic, detect, solve_pairs

def address_space_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

budget = address_space_bytes() + BUDGET
resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
rng = np.random.default_rng(7)
n = 503
speed = rng.uniform(0.0, 30.0, n)
rate = np.zeros(n)
speed[:3] = 2000.0  # the highest ground speed and vertical rate that parse_track accepts
rate[:3] = 500.0
traffic = Traffic(
    party=np.arange(n) % 3,
    lat_deg=rng.uniform(50.0, 50.2, n),
    lon_deg=rng.uniform(4.0, 4.3, n),
    altitude_m=rng.uniform(0.0, 1000.0, n),
    ground_speed_mps=speed,
    track_deg=np.r_[[135.0, 45.0, 300.0], rng.uniform(0.0, 360.0, n - 3)],
    vertical_rate_mps=rate,
)
a, b = np.triu_indices(n, 1)
every = solve_pairs(traffic, Separation(), a.astype(np.int64), b.astype(np.int64))
print("every pair solved within the budget", flush=True)
try:
    found = detect(traffic, Separation())
except MemoryError as exc:
    print("detect:", exc)
    sys.exit(1)
sys.exit(0 if len(found) == len(every) else 2)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs /proc and an enforced RLIMIT_AS"
)
def test_a_few_reports_at_the_speed_limits_do_not_exhaust_memory() -> None:
    """500 slow aircraft (drones, helicopters) and three reports at the limits that
    ``parse_track`` accepts: 2,000 m/s over the ground, 500 m/s vertically. Solving all 126,000
    pairs directly fits in 512 MiB; the cell index, whose only purpose is to do less than that,
    must fit too. (The cells are sized from the 90th percentile of speeds, so each fast box
    covers tens of millions of cells.) The child process has its address space capped, so a
    failure is a MemoryError there, not a machine out of memory."""
    child = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD.replace("BUDGET", str(512 * 2**20))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "every pair solved within the budget" in child.stdout, child.stderr
    assert child.returncode == 0, child.stdout + child.stderr
