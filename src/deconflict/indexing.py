"""Boxes for the spatio-temporal index: lon/lat, time (POSIX seconds) and altitude (metres).

The index only narrows the search; :mod:`deconflict.detection` decides. Stored declarations are
indexed by their footprints grown by their own buffer and growth; a query is grown further by the
largest separation any rule could demand, so no candidate is missed.
"""

from __future__ import annotations

from dataclasses import dataclass

from deconflict.declarations import Declaration
from deconflict.geodesy import lonlat_box
from deconflict.rules import RuleSet
from deconflict.units import ALTITUDE_TOLERANCE_M, REFERENCE_MISMATCH_MARGIN_M

__all__ = ["Box", "boxes_intersect", "index_boxes", "query_boxes"]


@dataclass(frozen=True, slots=True)
class Box:
    min_lon: float
    max_lon: float
    min_lat: float
    max_lat: float
    min_t: float
    max_t: float
    min_alt: float
    max_alt: float


def boxes_intersect(a: Box, b: Box) -> bool:
    return (
        a.min_lon <= b.max_lon
        and b.min_lon <= a.max_lon
        and a.min_lat <= b.max_lat
        and b.min_lat <= a.max_lat
        and a.min_t <= b.max_t
        and b.min_t <= a.max_t
        and a.min_alt <= b.max_alt
        and b.min_alt <= a.max_alt
    )


def _boxes(decl: Declaration, grow_m: float, grow_alt_m: float) -> list[Box]:
    out = []
    for v in decl.effective_volumes():
        t0, t1 = v.time.start.timestamp(), v.time.end.timestamp()
        a0, a1 = v.altitude.lower_m - grow_alt_m, v.altitude.upper_m + grow_alt_m
        for lon0, lat0, lon1, lat1 in lonlat_box(v.footprint.shape, v.footprint.buffer_m + grow_m):
            out.append(Box(lon0, lon1, lat0, lat1, t0, t1, a0, a1))
    return out


def index_boxes(decl: Declaration, rules: RuleSet) -> list[Box]:
    return _boxes(decl, rules.growth(decl.kind), 0.0)


def query_boxes(decl: Declaration, rules: RuleSet) -> list[Box]:
    return _boxes(
        decl,
        rules.reach_m(decl.kind),
        rules.vertical_reach_m(decl.kind) + REFERENCE_MISMATCH_MARGIN_M + ALTITUDE_TOLERANCE_M,
    )
