"""Strategic conflict detection: the exact test between two declarations.

Two declarations conflict when they belong to different parties, a rule of the
:class:`~deconflict.rules.RuleSet` joins their kinds, and some volume of one and some volume of the
other overlap in time, come within the rule's vertical separation and within its horizontal
separation (each footprint grown by its buffer and its kind's growth). Touching counts. An
operation never conflicts with a coordination measure that its own party controls.

Candidates come from an index elsewhere; this module decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry.base import BaseGeometry

from deconflict.declarations import Declaration, Kind
from deconflict.geodesy import GEOD, approach, grown_intersection, wrap_lon
from deconflict.rules import ConflictKind, Rule, RuleSet, Severity
from deconflict.units import (
    ALTITUDE_TOLERANCE_M,
    DISTANCE_TOLERANCE_M,
    REFERENCE_MISMATCH_MARGIN_M,
)
from deconflict.volumes import Volume4D, format_time

__all__ = ["Finding", "Overlap", "detect", "detect_pair", "pair_rule"]


@dataclass(frozen=True, slots=True)
class Overlap:
    """Where two volumes meet: a lon/lat footprint, an altitude band in metres, a time window."""

    footprint: BaseGeometry
    lower_m: float
    upper_m: float
    reference: str
    start: datetime
    end: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "geometry": _geojson(self.footprint),
            "buffer_m": 0,
            "altitude": {
                "lower": round(self.lower_m, 2),
                "upper": round(self.upper_m, 2),
                "units": "m",
                "reference": self.reference,
            },
            "time": {"start": format_time(self.start), "end": format_time(self.end)},
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """A conflict between declarations ``a`` and ``b`` (``a.id < b.id``)."""

    a: Declaration
    b: Declaration
    kind: ConflictKind
    severity: Severity
    overlaps: tuple[Overlap, ...]

    @property
    def overlap(self) -> Overlap:
        """All overlaps together: their union, altitude envelope and time envelope."""
        if len(self.overlaps) == 1:
            return self.overlaps[0]
        ref = self.overlaps[0].footprint.centroid.x
        # make_valid: an overlap around a pole is no simple ring in lon/lat, and GEOS refuses
        # to union invalid polygons.
        aligned = [
            shapely.make_valid(
                shapely.affinity.translate(g, 360.0 * round((ref - g.centroid.x) / 360.0))
            )
            for g in (o.footprint for o in self.overlaps)
        ]
        return Overlap(
            shapely.union_all(aligned),
            min(o.lower_m for o in self.overlaps),
            max(o.upper_m for o in self.overlaps),
            self.overlaps[0].reference,
            min(o.start for o in self.overlaps),
            max(o.end for o in self.overlaps),
        )


def _ring(coords: Any) -> list[list[float]]:
    rounded: list[list[float]] = np.round(np.asarray(coords, dtype=np.float64)[:, :2], 7).tolist()
    return rounded


def _within_180(geom: BaseGeometry) -> list[Any]:
    """The polygons of ``geom`` (longitudes unwrapped, possibly beyond ±180) cut at the
    antimeridian and moved into [-180, 180], as RFC 7946 asks."""
    geom = shapely.affinity.translate(geom, -360.0 * round(geom.centroid.x / 360.0))
    lon0, _, lon1, _ = geom.bounds
    if lon1 - lon0 >= 180.0:
        return _wrapped(geom)
    pieces = []
    for offset in (-360.0, 0.0, 360.0):
        part = shapely.clip_by_rect(geom, -180.0 - offset, -90.0, 180.0 - offset, 90.0)
        if not part.is_empty:
            pieces.append(shapely.affinity.translate(part, offset))
    parts = [
        g
        for piece in pieces
        for g in getattr(piece, "geoms", [piece])
        if g.geom_type == "Polygon" and g.area > 0
    ]
    return parts or _wrapped(geom)


def _wrapped(geom: BaseGeometry) -> list[Any]:
    """Polygons with each longitude moved into [-180, 180]: for an overlap around a pole, which
    cannot be cut in lon/lat (it has no area there), the vertices at least are right."""
    wrapped = shapely.transform(geom, lambda xy: np.column_stack([wrap_lon(xy[:, 0]), xy[:, 1]]))
    return [g for g in getattr(wrapped, "geoms", [wrapped]) if g.geom_type == "Polygon"]


def _geojson(geom: BaseGeometry) -> dict[str, Any]:
    def poly(p: Any) -> list[list[list[float]]]:
        return [_ring(p.exterior.coords)] + [_ring(h.coords) for h in p.interiors]

    parts = _within_180(geom)
    if len(parts) == 1:
        return {"type": "Polygon", "coordinates": poly(parts[0])}
    return {"type": "MultiPolygon", "coordinates": [poly(p) for p in parts]}


def pair_rule(a: Declaration, b: Declaration, rules: RuleSet) -> Rule | None:
    """The rule that applies to ``a`` and ``b``, or ``None`` when they cannot conflict."""
    if a.party == b.party or not (a.detectable and b.detectable):
        return None
    for measure, other in ((a, b), (b, a)):
        if measure.kind is Kind.COORDINATION_MEASURE and other.party == measure.controlling_party:
            return None
    return rules.lookup(a.kind, b.kind)


def _volumes_overlap(
    va: Volume4D, grow_a: float, vb: Volume4D, grow_b: float, rule: Rule
) -> Overlap | None:
    if not va.time.overlaps(vb.time):
        return None
    vertical = rule.vertical_m
    if va.altitude.reference != vb.altitude.reference:
        vertical += REFERENCE_MISMATCH_MARGIN_M
    al, au, bl, bu = (
        va.altitude.lower_m,
        va.altitude.upper_m,
        vb.altitude.lower_m,
        vb.altitude.upper_m,
    )
    slack = vertical + ALTITUDE_TOLERANCE_M
    if al - slack > bu or bl - slack > au:
        return None
    ra, rb = va.footprint.buffer_m + grow_a, vb.footprint.buffer_m + grow_b
    reach = ra + rb + rule.horizontal_m
    found = approach(va.footprint.shape, vb.footprint.shape, far_m=reach)
    if found is None or found.distance_m > reach + DISTANCE_TOLERANCE_M:
        return None
    (p, q) = found.point_a, found.point_b
    centre = p if found.distance_m == 0 else tuple(GEOD.npts(p[0], p[1], q[0], q[1], 1)[0])
    half = rule.horizontal_m / 2.0
    footprint = grown_intersection(
        va.footprint.shape, ra + half, vb.footprint.shape, rb + half, (centre[0], centre[1])
    )
    lower, upper = max(al, bl) - vertical / 2.0, min(au, bu) + vertical / 2.0
    if lower > upper:
        lower = upper = (lower + upper) / 2.0
    return Overlap(
        footprint,
        lower,
        upper,
        va.altitude.reference,
        max(va.time.start, vb.time.start),
        min(va.time.end, vb.time.end),
    )


def detect_pair(a: Declaration, b: Declaration, rules: RuleSet) -> Finding | None:
    """The conflict between two declarations, if any."""
    if b.id < a.id:
        a, b = b, a
    rule = pair_rule(a, b, rules)
    if rule is None:
        return None
    grow_a, grow_b = rules.growth(a.kind), rules.growth(b.kind)
    overlaps = tuple(
        o
        for va in a.effective_volumes()
        for vb in b.effective_volumes()
        if (o := _volumes_overlap(va, grow_a, vb, grow_b, rule)) is not None
    )
    if not overlaps:
        return None
    return Finding(a, b, rule.kind, rule.severity, overlaps)


def detect(
    subject: Declaration, candidates: Iterable[Declaration], rules: RuleSet
) -> list[Finding]:
    """Every conflict between ``subject`` and the ``candidates`` (which may include it)."""
    out = []
    for other in candidates:
        if other.id == subject.id:
            continue
        found = detect_pair(subject, other, rules)
        if found is not None:
            out.append(found)
    return out
