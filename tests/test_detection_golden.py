"""Golden conflict cases: one table, run through the pure detector and through the HTTP API.

Every row of the rules table of PRODUCT.md has a case, and so do the edges: same party,
controlling party, states, touching and separated times and altitudes, altitude units and
references, the 500 m growth of protected sites, the 5 NM air separation, the antimeridian, the
pole and high latitudes. Expected kinds and severities come from the PRODUCT.md table; expected
distances come from geometry stated here (meridian and equator arcs, perpendicular offsets from
a meridian placed with pyproj.Geod.fwd), never from deconflict itself.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pyproj import Geod

from conftest import Api
from deconflict.declarations import Declaration, State, parse_new
from deconflict.detection import detect_pair
from deconflict.rules import default_rules
from factories import box, declaration, line, point, volume
from oracle import SPACING_M, sampled_distance_m, shape_of

GEOD = Geod(ellps="WGS84")
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
NM = 1_852.0
AIR_SEPARATION_M = 5 * NM  # 9,260 m
SITE_GROWTH_M = 500.0
DEZ = (40.14, 35.33)  # Deir ez-Zor
RELEASED = ["coalition", "russia"]


def offset(origin: tuple[float, float], azimuth: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from ``origin`` along the geodesic leaving at ``azimuth``."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, distance_m)
    return (float(lon), float(lat))


def meridian_arc_m(lat0: float, lat1: float) -> float:
    """Length of the WGS84 meridian between two latitudes (Simpson's rule on the meridian
    radius of curvature M = a(1-e²)/(1-e² sin²φ)^1.5)."""
    n = 200
    lo, hi = math.radians(lat0), math.radians(lat1)
    h = (hi - lo) / n

    def m(phi: float) -> float:
        return WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * math.sin(phi) ** 2) ** 1.5

    total = m(lo) + m(hi) + sum((4 if i % 2 else 2) * m(lo + i * h) for i in range(1, n))
    return total * h / 3


def parallel_arc_m(lat: float, dlon: float) -> float:
    """Length along a parallel: N(φ)·cos φ·Δλ. Between points 0.1° apart at 70° N the geodesic
    is shorter by under a millimetre."""
    phi = math.radians(lat)
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * math.sin(phi) ** 2)
    return n * math.cos(phi) * math.radians(dlon)


EQUATOR_0_02_DEG_M = WGS84_A * math.radians(0.02)
"""Between two points on the equator 0.02° apart the geodesic is the equator: a·Δλ ≈ 2,226 m."""
POLE_GAP_M = 2 * meridian_arc_m(89.95, 90.0)
"""(0°, 89.95°) to (180°, 89.95°): straight over the pole along one meridian ellipse, ≈ 11.17 km."""
HIGH_LAT_GAP_M = parallel_arc_m(70.0, 0.1)
"""0.1° of longitude at 70° N: ≈ 3.82 km, a third of 0.1° of latitude."""


# --- declaration builders ---------------------------------------------------------------------


def _decl(kind: str, title: str, geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    extra = {k: kw.pop(k) for k in list(kw) if k in _DECLARATION_FIELDS}
    return declaration(kind, title, volume(geometry, **kw), **extra)


_DECLARATION_FIELDS = {"controlling_party", "measure", "released_to", "site_type", "state"}


def air(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("lower", 3_000)
    kw.setdefault("upper", 6_000)
    return _decl("air_operation", "CAP", geometry, **kw)


def ground(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 100)
    return _decl("ground_operation", "Patrol", geometry, **kw)


def strike(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return _decl("strike", "Strike", geometry, **kw)


def launch(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 40_000)
    return _decl("launch_notice", "Launch", geometry, **kw)


def adz(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 20_000)
    return _decl("air_defense_zone", "SAM", geometry, **kw)


def site(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 30)
    kw.setdefault("released_to", RELEASED)
    kw.setdefault("site_type", "hospital")
    return _decl("protected_site", "Hospital", geometry, **kw)


def movement(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 10)
    kw.setdefault("released_to", RELEASED)
    return _decl("humanitarian_movement", "Convoy", geometry, **kw)


def measure(geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("upper", 30_000)
    return _decl("coordination_measure", "AOR", geometry, **kw)


# --- geometry used by several cases -----------------------------------------------------------

LON, LAT = DEZ
HOSPITAL = box(LON, LAT, LON + 0.002, LAT + 0.002)
"""About 180 m by 220 m; its west edge is the meridian LON from LAT to LAT + 0.002."""
HOSPITAL_WEST_MIDPOINT = (LON, LAT + 0.001)


def west_of_hospital(gap_m: float) -> tuple[float, float]:
    """A point ``gap_m`` due west of the hospital's west edge. The geodesic leaving a meridian
    at a right angle is the shortest way back to it, so the distance to the edge is ``gap_m``."""
    return offset(HOSPITAL_WEST_MIDPOINT, 270.0, gap_m)


AREA = box(LON - 0.2, LAT - 0.2, LON + 0.2, LAT + 0.2)
ROUTE = line(DEZ, offset(DEZ, 90.0, 10_000))
CORRIDOR = line(offset(DEZ, 270.0, 60_000), offset(DEZ, 90.0, 60_000))
ANTIMERIDIAN_BOX = {
    "type": "Polygon",
    "coordinates": [[[179.5, 10], [-179.5, 10], [-179.5, 11], [179.5, 11], [179.5, 10]]],
}


def at(gap_m: float, origin: tuple[float, float] = DEZ, azimuth: float = 60.0) -> dict[str, Any]:
    return point(*offset(origin, azimuth, gap_m))


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    first: dict[str, Any]
    second: dict[str, Any]
    expected: tuple[str, str] | None
    """(conflict kind, severity) per PRODUCT.md, or None for no conflict."""
    first_party: str = "russia"
    second_party: str = "coalition"
    first_state: str = "planned"


CRITICAL_PROTECTED = ("protected_object_at_risk", "critical")
FRATRICIDE = ("fratricide_risk", "critical")
LAUNCH_HIGH = ("launch_hazard", "high")
LAUNCH_CRITICAL = ("launch_hazard", "critical")
AIRSPACE = ("airspace_conflict", "high")
AD_EXPOSURE = ("air_defense_exposure", "high")
GROUND_CLASH = ("ground_clash_risk", "high")
AREA_ENTRY = ("area_entry", "medium")

CASES = [
    # --- one case per row of the rules table -------------------------------------------------
    Case(
        "strike_on_protected_site_is_critical",
        site(HOSPITAL),
        strike(point(LON + 0.001, LAT + 0.001), buffer_m=50),
        CRITICAL_PROTECTED,
        first_party="medics",
    ),
    Case(
        "strike_on_humanitarian_movement_route_is_critical",
        movement(ROUTE, buffer_m=50),
        strike(at(300, azimuth=0.0), buffer_m=400),
        CRITICAL_PROTECTED,
        first_party="medics",
    ),
    Case(
        "strike_near_other_partys_air_operation_is_fratricide",
        air(point(*DEZ), buffer_m=5_000),
        strike(at(2_000), buffer_m=100),
        FRATRICIDE,
    ),
    Case(
        "strike_on_other_partys_ground_operation_is_fratricide",
        ground(box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01)),
        strike(point(*DEZ), buffer_m=100),
        FRATRICIDE,
    ),
    Case(
        "launch_corridor_across_air_operation_is_a_launch_hazard",
        air(point(*DEZ), buffer_m=2_000),
        launch(CORRIDOR, buffer_m=1_000),
        LAUNCH_HIGH,
    ),
    Case(
        "launch_impact_area_on_ground_operation_is_a_launch_hazard",
        ground(box(LON, LAT, LON + 0.05, LAT + 0.05)),
        launch(point(LON + 0.02, LAT + 0.02), buffer_m=1_000),
        LAUNCH_HIGH,
    ),
    Case(
        "launch_corridor_over_strike_is_a_launch_hazard",
        strike(point(*DEZ), buffer_m=500),
        launch(CORRIDOR, buffer_m=1_000),
        LAUNCH_HIGH,
    ),
    Case(
        "launch_corridor_across_other_partys_launch_corridor_is_a_launch_hazard",
        launch(line(offset(DEZ, 0.0, 50_000), offset(DEZ, 180.0, 50_000)), buffer_m=1_000),
        launch(CORRIDOR, buffer_m=1_000),
        LAUNCH_HIGH,
    ),
    Case(
        "launch_impact_area_on_protected_site_is_critical",
        site(HOSPITAL),
        launch(point(*DEZ), buffer_m=2_000),
        LAUNCH_CRITICAL,
        first_party="medics",
    ),
    Case(
        "launch_corridor_over_humanitarian_movement_is_critical",
        movement(line(offset(DEZ, 0.0, 5_000), offset(DEZ, 180.0, 5_000)), buffer_m=50),
        launch(CORRIDOR, buffer_m=1_000),
        LAUNCH_CRITICAL,
        first_party="medics",
    ),
    Case(
        "overlapping_air_operations_of_two_parties_conflict",
        air(point(*DEZ), buffer_m=2_000),
        air(at(1_000), buffer_m=2_000),
        AIRSPACE,
    ),
    Case(
        "air_operation_inside_air_defence_zone_is_exposed",
        adz(point(*DEZ), buffer_m=40_000),
        air(at(30_000), buffer_m=2_000),
        AD_EXPOSURE,
    ),
    Case(
        "overlapping_ground_operations_of_two_parties_clash",
        ground(box(LON, LAT, LON + 0.05, LAT + 0.05)),
        ground(box(LON + 0.04, LAT + 0.04, LON + 0.09, LAT + 0.09)),
        GROUND_CLASH,
    ),
    Case(
        "air_operation_entering_area_of_responsibility_needs_notice",
        measure(AREA),
        air(point(*DEZ), buffer_m=2_000),
        AREA_ENTRY,
    ),
    Case(
        "ground_operation_crossing_coordination_line_needs_notice",
        measure(CORRIDOR, buffer_m=500, measure="line"),
        ground(box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01)),
        AREA_ENTRY,
    ),
    Case(
        "strike_inside_area_of_responsibility_needs_notice",
        strike(point(*DEZ), buffer_m=100),
        measure(AREA),
        AREA_ENTRY,
    ),
    Case(
        "launch_notice_through_area_of_responsibility_needs_notice",
        measure(AREA),
        launch(CORRIDOR, buffer_m=1_000),
        AREA_ENTRY,
    ),
    # --- kinds the table does not join --------------------------------------------------------
    Case(
        "air_operation_over_ground_operation_is_not_in_the_table",
        ground(AREA),
        air(point(*DEZ), buffer_m=2_000),
        None,
    ),
    Case(
        "two_protected_sites_never_conflict",
        site(HOSPITAL),
        site(HOSPITAL, released_to=["medics"]),
        None,
        first_party="medics",
        second_party="relay",
    ),
    Case(
        "strikes_of_two_parties_do_not_conflict_with_each_other",
        strike(point(*DEZ), buffer_m=500),
        strike(point(*DEZ), buffer_m=500),
        None,
    ),
    Case(
        "ground_operation_in_air_defence_zone_is_not_in_the_table",
        adz(point(*DEZ), buffer_m=40_000),
        ground(point(*DEZ), buffer_m=500),
        None,
    ),
    Case(
        "ground_operation_on_humanitarian_route_is_not_in_the_table",
        movement(ROUTE, buffer_m=50),
        ground(point(*DEZ), buffer_m=500),
        None,
        first_party="medics",
    ),
    Case(
        "protected_site_in_area_of_responsibility_is_no_area_entry",
        measure(AREA),
        site(HOSPITAL),
        None,
        second_party="medics",
    ),
    # --- parties and states -------------------------------------------------------------------
    Case(
        "strike_on_own_partys_protected_site_is_not_a_conflict",
        site(HOSPITAL),
        strike(point(LON + 0.001, LAT + 0.001), buffer_m=50),
        None,
        first_party="coalition",
    ),
    Case(
        "own_air_operations_never_conflict",
        air(point(*DEZ), buffer_m=2_000),
        air(point(*DEZ), buffer_m=2_000),
        None,
        first_party="coalition",
    ),
    Case(
        "operation_of_controlling_party_does_not_enter_its_own_area",
        measure(AREA, controlling_party="coalition"),
        ground(point(*DEZ), buffer_m=500),
        None,
        first_party="relay",
    ),
    Case(
        "operation_of_another_party_enters_area_controlled_for_someone_else",
        measure(AREA, controlling_party="coalition"),
        ground(point(*DEZ), buffer_m=500),
        AREA_ENTRY,
        first_party="relay",
        second_party="russia",
    ),
    Case(
        "active_declaration_conflicts",
        air(point(*DEZ), buffer_m=2_000),
        air(point(*DEZ), buffer_m=2_000),
        AIRSPACE,
        first_state="active",
    ),
    Case(
        "cancelled_declaration_does_not_conflict",
        air(point(*DEZ), buffer_m=2_000),
        air(point(*DEZ), buffer_m=2_000),
        None,
        first_state="cancelled",
    ),
    Case(
        "ended_declaration_does_not_conflict",
        air(point(*DEZ), buffer_m=2_000),
        air(point(*DEZ), buffer_m=2_000),
        None,
        first_state="ended",
    ),
    # --- time ---------------------------------------------------------------------------------
    Case(
        "time_windows_that_touch_conflict",
        ground(point(*DEZ), buffer_m=500, start="2017-04-06T18:00:00Z", end="2017-04-06T20:00:00Z"),
        ground(point(*DEZ), buffer_m=500, start="2017-04-06T20:00:00Z", end="2017-04-06T22:00:00Z"),
        GROUND_CLASH,
    ),
    Case(
        "time_windows_one_second_apart_do_not_conflict",
        ground(point(*DEZ), buffer_m=500, start="2017-04-06T18:00:00Z", end="2017-04-06T20:00:00Z"),
        ground(point(*DEZ), buffer_m=500, start="2017-04-06T20:00:01Z", end="2017-04-06T22:00:00Z"),
        None,
    ),
    Case(
        "time_windows_with_offsets_compare_in_utc",
        ground(point(*DEZ), buffer_m=500, start="2017-04-06T18:00:00Z", end="2017-04-06T20:00:00Z"),
        ground(
            point(*DEZ),
            buffer_m=500,
            start="2017-04-06T23:00:00+03:00",  # 20:00Z: touches the first window
            end="2017-04-07T01:00:00+03:00",
        ),
        GROUND_CLASH,
    ),
    # --- altitude -----------------------------------------------------------------------------
    Case(
        "air_bands_exactly_1000_ft_apart_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=5_000, upper=10_000, units="ft"),
        air(point(*DEZ), buffer_m=2_000, lower=11_000, upper=15_000, units="ft"),
        AIRSPACE,
    ),
    Case(
        "air_bands_1001_ft_apart_do_not_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=5_000, upper=10_000, units="ft"),
        air(point(*DEZ), buffer_m=2_000, lower=11_001, upper=15_000, units="ft"),
        None,
    ),
    Case(
        "air_bands_1000_ft_apart_at_fl005_fl015_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=500, units="ft"),
        air(point(*DEZ), buffer_m=2_000, lower=1_500, upper=3_000, units="ft"),
        AIRSPACE,
    ),
    Case(
        "air_bands_1000_ft_apart_at_fl275_fl285_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=25_000, upper=27_500, units="ft"),
        air(point(*DEZ), buffer_m=2_000, lower=28_500, upper=30_000, units="ft"),
        AIRSPACE,
    ),
    Case(
        "air_band_in_metres_1000_ft_below_band_in_feet_conflicts",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=3_048, units="m"),  # 10,000 ft
        air(point(*DEZ), buffer_m=2_000, lower=11_000, upper=15_000, units="ft"),
        AIRSPACE,
    ),
    Case(
        "air_band_in_metres_1001_ft_below_band_in_feet_does_not_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=3_048, units="m"),
        air(point(*DEZ), buffer_m=2_000, lower=11_001, upper=15_000, units="ft"),
        None,
    ),
    Case(
        "strike_band_touching_air_band_conflicts",
        air(point(*DEZ), buffer_m=2_000, lower=1_000, upper=3_000),
        strike(point(*DEZ), buffer_m=100, lower=0, upper=1_000),
        FRATRICIDE,
    ),
    Case(
        "strike_band_half_a_metre_below_air_band_does_not_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=1_000.5, upper=3_000),
        strike(point(*DEZ), buffer_m=100, lower=0, upper=1_000),
        None,
    ),
    # --- altitude references: 110 m margin between AMSL and W84 -------------------------------
    Case(
        "amsl_and_w84_air_bands_within_1000_ft_plus_110_m_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=3_000, reference="AMSL"),
        air(point(*DEZ), buffer_m=2_000, lower=3_414.8, upper=5_000, reference="W84"),
        AIRSPACE,
    ),
    Case(
        "amsl_and_w84_air_bands_beyond_1000_ft_plus_110_m_do_not_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=3_000, reference="AMSL"),
        air(point(*DEZ), buffer_m=2_000, lower=3_415.8, upper=5_000, reference="W84"),
        None,
    ),
    Case(
        "amsl_air_bands_beyond_1000_ft_do_not_conflict_without_the_margin",
        air(point(*DEZ), buffer_m=2_000, lower=0, upper=3_000, reference="AMSL"),
        air(point(*DEZ), buffer_m=2_000, lower=3_305.8, upper=5_000, reference="AMSL"),
        None,
    ),
    Case(
        "strike_amsl_110_m_below_w84_air_band_conflicts",
        air(point(*DEZ), buffer_m=2_000, lower=1_110, upper=3_000, reference="W84"),
        strike(point(*DEZ), buffer_m=100, lower=0, upper=1_000, reference="AMSL"),
        FRATRICIDE,
    ),
    Case(
        "strike_amsl_111_m_below_w84_air_band_does_not_conflict",
        air(point(*DEZ), buffer_m=2_000, lower=1_111, upper=3_000, reference="W84"),
        strike(point(*DEZ), buffer_m=100, lower=0, upper=1_000, reference="AMSL"),
        None,
    ),
    # --- protected site growth: 500 m beyond its footprint ------------------------------------
    Case(
        "strike_499_m_beyond_hospital_edge_is_inside_its_500_m_growth",
        site(HOSPITAL),
        strike(point(*west_of_hospital(1_000 + 499)), buffer_m=1_000),
        CRITICAL_PROTECTED,
        first_party="medics",
    ),
    Case(
        "strike_520_m_beyond_hospital_edge_is_outside_its_500_m_growth",
        site(HOSPITAL),
        strike(point(*west_of_hospital(1_000 + 520)), buffer_m=1_000),
        None,
        first_party="medics",
    ),
    Case(
        "humanitarian_movement_is_not_grown_like_a_site",
        movement(line(HOSPITAL_WEST_MIDPOINT, (LON, LAT + 0.002)), buffer_m=1),
        strike(point(*west_of_hospital(1_000 + 1 + 100)), buffer_m=1_000),
        None,
        first_party="medics",
    ),
    # --- 5 NM between air operations ----------------------------------------------------------
    Case(
        "air_operations_9250_m_apart_are_within_5_nm",
        air(point(*DEZ), buffer_m=2_000),
        air(at(2_000 + 9_250 + 2_000), buffer_m=2_000),
        AIRSPACE,
    ),
    Case(
        "air_operations_9300_m_apart_are_beyond_5_nm",
        air(point(*DEZ), buffer_m=2_000),
        air(at(2_000 + 9_300 + 2_000), buffer_m=2_000),
        None,
    ),
    Case(
        "air_separation_does_not_apply_to_air_defence_zones",
        adz(point(*DEZ), buffer_m=2_000),
        air(at(2_000 + 100 + 2_000), buffer_m=2_000),
        None,
    ),
    # --- antimeridian -------------------------------------------------------------------------
    Case(
        "orbits_either_side_of_antimeridian_overlapping_conflict",
        ground(point(179.99, 0.0), buffer_m=EQUATOR_0_02_DEG_M / 2 + 20),
        ground(point(-179.99, 0.0), buffer_m=EQUATOR_0_02_DEG_M / 2 + 20),
        GROUND_CLASH,
    ),
    Case(
        "orbits_either_side_of_antimeridian_apart_do_not_conflict",
        ground(point(179.99, 0.0), buffer_m=EQUATOR_0_02_DEG_M / 2 - 20),
        ground(point(-179.99, 0.0), buffer_m=EQUATOR_0_02_DEG_M / 2 - 20),
        None,
    ),
    Case(
        "air_operations_across_antimeridian_within_5_nm_conflict",
        air(point(179.99, 0.0), buffer_m=1),
        air(point(-179.99, 0.0), buffer_m=1),
        AIRSPACE,
    ),
    Case(
        "point_east_of_antimeridian_inside_polygon_across_it_conflicts",
        ground(ANTIMERIDIAN_BOX),
        ground(point(-179.8, 10.5), buffer_m=100),
        GROUND_CLASH,
    ),
    Case(
        "point_west_of_antimeridian_inside_polygon_across_it_conflicts",
        ground(ANTIMERIDIAN_BOX),
        ground(point(179.9, 10.5), buffer_m=100),
        GROUND_CLASH,
    ),
    Case(
        "polygon_across_antimeridian_does_not_go_the_long_way_round",
        ground(ANTIMERIDIAN_BOX),
        ground(point(0.0, 10.5), buffer_m=1_000),
        None,
    ),
    Case(
        "buffer_reaching_antimeridian_polygon_from_the_west_conflicts",
        ground(ANTIMERIDIAN_BOX),
        ground(point(*offset((179.5, 10.5), 270.0, 1_000)), buffer_m=1_010),
        GROUND_CLASH,
    ),
    Case(
        "buffer_short_of_antimeridian_polygon_from_the_west_does_not_conflict",
        ground(ANTIMERIDIAN_BOX),
        ground(point(*offset((179.5, 10.5), 270.0, 1_000)), buffer_m=990),
        None,
    ),
    Case(
        "buffer_reaching_antimeridian_polygon_from_the_east_conflicts",
        ground(ANTIMERIDIAN_BOX),
        ground(point(*offset((-179.5, 10.5), 90.0, 1_000)), buffer_m=1_010),
        GROUND_CLASH,
    ),
    # --- the pole -----------------------------------------------------------------------------
    Case(
        "orbits_on_opposite_sides_of_the_pole_overlapping_conflict",
        ground(point(0.0, 89.95), buffer_m=POLE_GAP_M / 2 + 15),
        ground(point(180.0, 89.95), buffer_m=POLE_GAP_M / 2 + 15),
        GROUND_CLASH,
    ),
    Case(
        "orbits_on_opposite_sides_of_the_pole_apart_do_not_conflict",
        ground(point(0.0, 89.95), buffer_m=POLE_GAP_M / 2 - 15),
        ground(point(180.0, 89.95), buffer_m=POLE_GAP_M / 2 - 15),
        None,
    ),
    Case(
        "air_operations_across_the_pole_within_5_nm_conflict",
        air(point(0.0, 89.95), buffer_m=1_000),  # 11,169 - 2,000 = 9,169 m < 9,260 m
        air(point(180.0, 89.95), buffer_m=1_000),
        AIRSPACE,
    ),
    Case(
        "air_operations_across_the_pole_beyond_5_nm_do_not_conflict",
        air(point(0.0, 89.95), buffer_m=900),  # 11,169 - 1,800 = 9,369 m > 9,260 m
        air(point(180.0, 89.95), buffer_m=900),
        None,
    ),
    # --- touching and containment -------------------------------------------------------------
    Case(
        "ground_operations_sharing_a_meridian_edge_touch_and_conflict",
        ground(box(36.0, 35.0, 36.1, 35.1)),
        ground(box(36.1, 35.0, 36.2, 35.1)),
        GROUND_CLASH,
    ),
    Case(
        "ground_operations_sharing_an_east_west_edge_touch_and_conflict",
        ground(box(36.0, 35.0, 36.1, 35.1)),
        ground(box(36.0, 35.1, 36.1, 35.2)),
        GROUND_CLASH,
    ),
    Case(
        "ground_operations_a_metre_apart_do_not_conflict",
        ground(box(36.0, 35.0, 36.1, 35.1)),
        ground(box(*offset((36.1, 35.0), 90.0, 1.0), 36.2, 35.1)),
        None,
    ),
    Case(
        "ground_operation_wholly_inside_another_conflicts",
        ground(box(36.0, 35.0, 36.5, 35.5)),
        ground(box(36.2, 35.2, 36.3, 35.3)),
        GROUND_CLASH,
    ),
    # --- high latitude: degrees of longitude shrink --------------------------------------------
    Case(
        "orbits_0_1_deg_of_longitude_apart_at_70_n_overlap",
        ground(point(20.0, 70.0), buffer_m=HIGH_LAT_GAP_M / 2 + 15),
        ground(point(20.1, 70.0), buffer_m=HIGH_LAT_GAP_M / 2 + 15),
        GROUND_CLASH,
    ),
    Case(
        "orbits_0_1_deg_of_longitude_apart_at_70_n_can_miss",
        ground(point(20.0, 70.0), buffer_m=HIGH_LAT_GAP_M / 2 - 15),
        ground(point(20.1, 70.0), buffer_m=HIGH_LAT_GAP_M / 2 - 15),
        None,
    ),
]

IDS = [c.id for c in CASES]
RULES = default_rules()
NOW = datetime(2017, 4, 6, 12, 0, tzinfo=UTC)
GROWTH = {"protected_site": SITE_GROWTH_M}


def test_golden_table_ids_are_unique_and_cover_every_severity() -> None:
    assert len(set(IDS)) == len(IDS)
    kinds = {c.expected for c in CASES if c.expected}
    assert kinds == {
        CRITICAL_PROTECTED,
        FRATRICIDE,
        LAUNCH_HIGH,
        LAUNCH_CRITICAL,
        AIRSPACE,
        AD_EXPOSURE,
        GROUND_CLASH,
        AREA_ENTRY,
    }


def test_stated_distances_are_what_pyproj_measures() -> None:
    """The closed-form distances the table relies on, checked against an independent geodesic
    solver (Karney's, in PROJ), so a slip in either would show."""
    assert GEOD.inv(0.0, 89.95, 180.0, 89.95)[2] == pytest.approx(POLE_GAP_M, abs=0.01)
    assert GEOD.inv(179.99, 0.0, -179.99, 0.0)[2] == pytest.approx(EQUATOR_0_02_DEG_M, abs=0.01)
    assert GEOD.inv(20.0, 70.0, 20.1, 70.0)[2] == pytest.approx(HIGH_LAT_GAP_M, abs=0.01)
    assert 11_150 < POLE_GAP_M < 11_190
    assert 3_800 < HIGH_LAT_GAP_M < 3_840


def _core(body: dict[str, Any], id: str, party: str, state: str = "planned") -> Declaration:
    decl = parse_new(body, id=id, party=party, now=NOW)
    if state != "planned":
        decl = dataclasses.replace(decl, state=State(state))
    return decl


def _window(case: Case) -> tuple[datetime, datetime]:
    (va,), (vb,) = case.first["volumes"], case.second["volumes"]
    starts = [datetime.fromisoformat(v["time"]["start"]) for v in (va, vb)]
    ends = [datetime.fromisoformat(v["time"]["end"]) for v in (va, vb)]
    return max(starts), min(ends)


def _reach(body: dict[str, Any]) -> float:
    (v,) = body["volumes"]
    return float(v.get("buffer_m") or 0.0) + GROWTH.get(body["kind"], 0.0)


def _outer_vertices(geometry: dict[str, Any]) -> list[list[float]]:
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    assert polygons
    return [pos for poly in polygons for pos in poly[0][:-1]]


def _check_overlap_lies_near_both(case: Case, kind: str, overlap: dict[str, Any]) -> None:
    """The overlap window is the intersection of the two windows, its band is not inverted, and
    every vertex of its footprint lies within both volumes' grown reach (half the separation
    each). Vertices, not lon/lat areas: near a pole or across the antimeridian a lon/lat ring
    says little by itself."""
    time = overlap["time"]
    window = (datetime.fromisoformat(time["start"]), datetime.fromisoformat(time["end"]))
    assert window == _window(case)
    assert overlap["altitude"]["lower"] <= overlap["altitude"]["upper"]
    half = AIR_SEPARATION_M / 2 if kind == "airspace_conflict" else 0.0
    vertices = _outer_vertices(overlap["geometry"])
    assert len(vertices) >= 3
    for body in (case.first, case.second):
        (vol,) = body["volumes"]
        shape = shape_of(vol["geometry"])
        allowed = _reach(body) + half
        # Circles are drawn with 64 sides; touching shapes get a 1 m disc at the contact.
        slack = 0.01 * allowed + SPACING_M + 2.0
        for lon, lat in vertices:
            where = shape_of({"type": "Point", "coordinates": [lon, lat]})
            assert sampled_distance_m(where, shape) <= allowed + slack, (lon, lat, body["kind"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_detector_decides_golden_case(case: Case) -> None:
    a = _core(case.first, "a", case.first_party, case.first_state)
    b = _core(case.second, "b", case.second_party)
    found = detect_pair(a, b, RULES)
    if case.expected is None:
        assert found is None
        return
    assert found is not None
    assert (str(found.kind), str(found.severity)) == case.expected
    assert (found.a.id, found.b.id) == ("a", "b")
    _check_overlap_lies_near_both(case, found.kind, found.overlap.to_json())
    # The order of the arguments does not matter.
    again = detect_pair(b, a, RULES)
    assert again is not None
    assert (again.kind, again.severity) == (found.kind, found.severity)


def _set_state(api: Api, who: str, decl: dict[str, Any], state: str) -> None:
    url = f"/v1/declarations/{decl['id']}"
    if state == "cancelled":
        r = api.delete(who, url, version=decl["version"])
    elif state == "ended":
        r = api.patch(who, url, {"state": "active"}, version=decl["version"])
        assert r.status_code == 200, r.text
        r = api.patch(who, url, {"state": "ended"}, version=decl["version"] + 1)
    else:
        r = api.patch(who, url, {"state": state}, version=decl["version"])
    assert r.status_code == 200, r.text
    assert r.json()["declaration"]["state"] == state


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_reports_golden_case_to_the_declaring_party(api: Api, case: Case) -> None:
    first = api.declare(case.first_party, case.first)["declaration"]
    if case.first_state != "planned":
        _set_state(api, case.first_party, first, case.first_state)
    second = api.declare(case.second_party, case.second)
    mine = second["declaration"]["id"]
    seen = [(c["kind"], c["severity"]) for c in second["conflicts"]]
    if case.expected is None:
        assert seen == []
        return
    assert seen == [case.expected]
    (conflict,) = second["conflicts"]
    assert conflict["declaration_id"] == mine
    assert conflict["other_party"] == case.first_party
    assert conflict["other_kind"] == case.first["kind"]
    assert conflict["state"] == "open"
    _check_overlap_lies_near_both(case, conflict["kind"], conflict["overlap"])
    # The first party is told too (a protected object's owner always is).
    theirs = api.get(case.first_party, f"/v1/declarations/{first['id']}/conflicts")
    assert theirs.status_code == 200, theirs.text
    assert [c["id"] for c in theirs.json()["items"]] == [conflict["id"]]


def _around_the_pole(kind_title: str, *lons: float) -> dict[str, Any]:
    vols = [volume(point(lon, 89.95), buffer_m=POLE_GAP_M / 2 + 15, upper=100) for lon in lons]
    return declaration("ground_operation", kind_title, *vols)


def test_conflict_whose_overlaps_surround_the_pole_is_reported(api: Api) -> None:
    """Four orbits round the pole, two per party: every pair of them overlaps (the closest
    pairs are a quarter turn apart, the farthest straight across the pole, within the
    buffers), so the overlaps surround the pole. Their union must still be reported."""
    api.declare("russia", _around_the_pole("North", 0.0, 90.0))
    second = api.declare("coalition", _around_the_pole("Also north", 180.0, -90.0))
    (conflict,) = second["conflicts"]
    assert (conflict["kind"], conflict["severity"]) == GROUND_CLASH
    assert len(conflict["overlaps"]) == 4
