"""A brute-force oracle for conflict detection, independent of deconflict's geometry and rules.

Every pair of declarations is tested: no index, no bounding boxes. The horizontal distance
between two footprints is found by *sampling*: every boundary is cut into geodesic steps of at
most :data:`SPACING_M` with :class:`pyproj.Geod`, and the distance is the least geodesic
distance between samples of the two — or zero when a sample of one lies inside a polygon of the
other (shapely in an azimuthal equidistant plane, used for that containment test only).

Samples lie on the footprints and every boundary point is within ``spacing / 2`` of a sample,
so the true distance lies in ``[sampled - spacing, sampled]``. A pair is only *decided* when
that interval is clear of the required separation by a margin (:data:`MARGIN_M`); pairs that the
first pass leaves open are sampled again at :data:`FINE_SPACING_M` with :data:`FINE_MARGIN_M`,
and what is still open is :attr:`Verdict.UNSURE`: the caller should not assert on it.

The rules are the table of PRODUCT.md written out again here, not imported from deconflict.
Altitudes are compared exactly (fractions of a metre), times as datetimes; both are closed
intervals because touching counts as overlapping.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Proj

__all__ = [
    "FINE_MARGIN_M",
    "FINE_SPACING_M",
    "MARGIN_M",
    "POINT_MARGIN_M",
    "RULES",
    "SPACING_M",
    "Decl",
    "OracleRule",
    "PairVerdict",
    "Shape",
    "Verdict",
    "expected_conflicts",
    "parse_declaration",
    "rule_between",
    "sampled_distance_m",
    "shape_of",
    "verdict",
]

GEOD = Geod(ellps="WGS84")

SPACING_M = 50.0
"""Longest geodesic step between consecutive samples of a boundary (first pass)."""

MARGIN_M = 25.0
"""How far the sampled interval must clear the required separation for a verdict: far more
than the detector's own tolerance (0.5 m), so only real disagreements fail."""

POINT_MARGIN_M = 1.0
"""Between two points nothing is sampled: the margin only covers the detector's tolerance."""

FINE_SPACING_M = 5.0
FINE_MARGIN_M = 5.0
"""The second pass, for pairs within a few tens of metres of the required separation."""

_CHUNK = 16
"""Consecutive samples grouped for branch-and-bound (the answer is the same without it)."""

# --- the rules table of PRODUCT.md, written out independently -----------------------------------

FT_M = Fraction(3048, 10_000)
NM_M = 1852.0
AIR_SEPARATION_M = 5 * NM_M
"""Air operations of different parties: 5 NM horizontally..."""
AIR_SEPARATION_VERTICAL_M = 1000 * FT_M
"""...and 1,000 ft vertically."""
PROTECTED_SITE_GROWTH_M = 500.0
"""A protected site is protected 500 m beyond its footprint."""
REFERENCE_MARGIN_M = Fraction(110)
"""Added to vertical separation between an AMSL and a W84 band (documented in units.py: no
geoid grid on board, EGM96 undulation lies within -107..+86 m)."""

OPERATIONS = ("air_operation", "ground_operation", "strike", "launch_notice")
PROTECTED = ("protected_site", "humanitarian_movement")
DETECTED_STATES = ("planned", "active")


@dataclass(frozen=True)
class OracleRule:
    kind: str
    severity: str
    horizontal_m: float = 0.0
    vertical_m: Fraction = Fraction(0)


def _table() -> dict[frozenset[str], OracleRule]:
    table: dict[frozenset[str], OracleRule] = {}

    def add(first: str, second: str, rule: OracleRule) -> None:
        key = frozenset({first, second})
        assert key not in table, f"two rules for {sorted(key)}"
        table[key] = rule

    # strike | protected site or movement | protected object at risk | critical
    for protected in PROTECTED:
        add("strike", protected, OracleRule("protected_object_at_risk", "critical"))
    # strike | another party's air/ground operation | fratricide / clash risk | critical
    for op in ("air_operation", "ground_operation"):
        add("strike", op, OracleRule("fratricide_risk", "critical"))
    # launch corridor or impact area | another party's operation; protected object |
    # launch hazard | high / critical
    for op in OPERATIONS:
        add("launch_notice", op, OracleRule("launch_hazard", "high"))
    for protected in PROTECTED:
        add("launch_notice", protected, OracleRule("launch_hazard", "critical"))
    # air operation | another party's air operation | airspace conflict | high
    add(
        "air_operation",
        "air_operation",
        OracleRule("airspace_conflict", "high", AIR_SEPARATION_M, AIR_SEPARATION_VERTICAL_M),
    )
    # air operation | another party's air-defence zone | air-defence exposure | high
    add("air_operation", "air_defense_zone", OracleRule("air_defense_exposure", "high"))
    # ground operation | another party's ground operation | ground clash risk | high
    add("ground_operation", "ground_operation", OracleRule("ground_clash_risk", "high"))
    # any operation | another party's area of responsibility or line | area entry | medium
    for op in OPERATIONS:
        add(op, "coordination_measure", OracleRule("area_entry", "medium"))
    return table


RULES = _table()
GROWTH_M: Mapping[str, float] = {"protected_site": PROTECTED_SITE_GROWTH_M}


# --- footprints as samples ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    lons: NDArray[np.float64]
    lats: NDArray[np.float64]


@dataclass(frozen=True)
class Shape:
    """A footprint's boundary samples (grouped in chunks) and its polygons for containment."""

    spacing_m: float
    samples: NDArray[np.float64]
    """(n, 2) lon/lat of every sample."""
    chunks: tuple[_Chunk, ...]
    centres: NDArray[np.float64]
    """(k, 2) one sample per chunk."""
    radii: NDArray[np.float64]
    """Largest geodesic distance from each chunk's centre to its samples."""
    polygons: tuple[tuple[Proj, shapely.Polygon], ...]

    @property
    def error_m(self) -> float:
        """How far a point of the footprint's boundary can be from the nearest sample."""
        return 0.0 if len(self.samples) == 1 else self.spacing_m / 2.0


def _densify(path: NDArray[np.float64], spacing_m: float) -> NDArray[np.float64]:
    out = [path[:1]]
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(path):
        _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
        steps = math.ceil(dist / spacing_m)
        if steps > 1:
            out.append(np.asarray(GEOD.npts(lon1, lat1, lon2, lat2, steps - 1), dtype=float))
        out.append(np.array([[lon2, lat2]]))
    return np.concatenate(out)


def _chunks(path: NDArray[np.float64]) -> list[tuple[_Chunk, NDArray[np.float64], float]]:
    out = []
    for i in range(0, len(path), _CHUNK):
        part = path[i : i + _CHUNK]
        centre = part[len(part) // 2]
        _, _, dist = GEOD.inv(
            np.full(len(part), centre[0]), np.full(len(part), centre[1]), part[:, 0], part[:, 1]
        )
        out.append((_Chunk(part[:, 0].copy(), part[:, 1].copy()), centre, float(np.max(dist))))
    return out


def _polygon(rings: Sequence[NDArray[np.float64]]) -> tuple[Proj, shapely.Polygon]:
    lon0, lat0 = rings[0][0]
    proj = Proj(proj="aeqd", lon_0=lon0, lat_0=lat0, ellps="WGS84", units="m")

    def plane(ring: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = proj(ring[:, 0], ring[:, 1])
        return np.column_stack([x, y])

    poly = shapely.Polygon(plane(rings[0]), [plane(r) for r in rings[1:]])
    shapely.prepare(poly)
    return proj, poly


def shape_of(geometry: Mapping[str, Any], spacing_m: float = SPACING_M) -> Shape:
    """Sample a GeoJSON Point, LineString, Polygon or MultiPolygon every ``spacing_m``."""
    gtype, coords = geometry["type"], geometry["coordinates"]
    polygons: list[list[NDArray[np.float64]]] = []
    if gtype == "Point":
        paths = [np.array([coords], dtype=float)]
    elif gtype == "LineString":
        paths = [_densify(np.array(coords, dtype=float), spacing_m)]
    else:
        raw_polys = [coords] if gtype == "Polygon" else coords
        polygons = [[_densify(np.array(r, dtype=float), spacing_m) for r in p] for p in raw_polys]
        paths = [r for p in polygons for r in p]
    chunks = [c for path in paths for c in _chunks(path)]
    return Shape(
        spacing_m=spacing_m,
        samples=np.concatenate(paths),
        chunks=tuple(c for c, _, _ in chunks),
        centres=np.array([centre for _, centre, _ in chunks]),
        radii=np.array([r for _, _, r in chunks]),
        polygons=tuple(_polygon(p) for p in polygons),
    )


def _inv_matrix(
    lons1: NDArray[np.float64],
    lats1: NDArray[np.float64],
    lons2: NDArray[np.float64],
    lats2: NDArray[np.float64],
) -> NDArray[np.float64]:
    n, m = len(lons1), len(lons2)
    _, _, dist = GEOD.inv(
        np.repeat(lons1, m), np.repeat(lats1, m), np.tile(lons2, n), np.tile(lats2, n)
    )
    return np.asarray(dist, dtype=np.float64).reshape(n, m)


def _inside(samples: NDArray[np.float64], polygons: Iterable[tuple[Proj, Any]]) -> bool:
    for proj, poly in polygons:
        x, y = proj(samples[:, 0], samples[:, 1])
        if shapely.intersects_xy(poly, x, y).any():
            return True
    return False


def sampled_distance_m(a: Shape, b: Shape, cap_m: float = math.inf) -> float:
    """The least distance between samples of ``a`` and ``b`` (0 if a sample of one lies in a
    polygon of the other). Exact over the samples when it is at most ``cap_m``; otherwise some
    value above ``cap_m``.

    Chunks of consecutive samples are bounded by their centre and radius (geodesic distance is
    a metric), so only chunk pairs that could hold a closer pair are compared sample by sample.
    """
    if _inside(b.samples, a.polygons) or _inside(a.samples, b.polygons):
        return 0.0
    centres = _inv_matrix(a.centres[:, 0], a.centres[:, 1], b.centres[:, 0], b.centres[:, 1])
    best = float(centres.min())
    lower = (centres - a.radii[:, None] - b.radii[None, :]).ravel()
    for k in np.argsort(lower, kind="stable"):
        if lower[k] >= best or lower[k] > cap_m:
            break
        i, j = divmod(int(k), len(b.chunks))
        ca, cb = a.chunks[i], b.chunks[j]
        best = min(best, float(_inv_matrix(ca.lons, ca.lats, cb.lons, cb.lats).min()))
    return best


# --- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    geometry: Mapping[str, Any]
    shape: Shape
    buffer_m: float
    lower_m: Fraction
    upper_m: Fraction
    reference: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Decl:
    id: str
    party: str
    kind: str
    state: str
    controlling_party: str | None
    volumes: tuple[Volume, ...]


def _metres(value: float, units: str) -> Fraction:
    # The decimal that was written (JSON numbers are decimals), not its nearest binary double.
    return Fraction(repr(value)) * {"m": Fraction(1), "ft": FT_M}[units]


def _volume(raw: Mapping[str, Any], expires_at: datetime | None) -> Volume | None:
    alt, time = raw["altitude"], raw["time"]
    start, end = datetime.fromisoformat(time["start"]), datetime.fromisoformat(time["end"])
    if expires_at is not None:
        # A protected object stops being protected at its expiry.
        if start > expires_at:
            return None
        end = min(end, expires_at)
    return Volume(
        geometry=raw["geometry"],
        shape=shape_of(raw["geometry"]),
        buffer_m=float(raw.get("buffer_m") or 0.0),
        lower_m=_metres(alt["lower"], alt["units"]),
        upper_m=_metres(alt["upper"], alt["units"]),
        reference=alt["reference"],
        start=start,
        end=end,
    )


def parse_declaration(
    body: Mapping[str, Any], *, id: str, party: str, state: str | None = None
) -> Decl:
    """A declaration request body (as sent to the API) as the oracle sees it."""
    kind = body["kind"]
    expires = body.get("expires_at")
    expires_at = datetime.fromisoformat(expires) if expires and kind in PROTECTED else None
    volumes = (_volume(v, expires_at) for v in body["volumes"])
    controlling = body.get("controlling_party", party) if kind == "coordination_measure" else None
    return Decl(
        id=id,
        party=party,
        kind=kind,
        state=state or body.get("state", "planned"),
        controlling_party=controlling,
        volumes=tuple(v for v in volumes if v is not None),
    )


class Verdict(Enum):
    CONFLICT = "conflict"
    CLEAR = "clear"
    UNSURE = "unsure"


def rule_between(a: Decl, b: Decl) -> OracleRule | None:
    if a.party == b.party or a.state not in DETECTED_STATES or b.state not in DETECTED_STATES:
        return None
    for measure, other in ((a, b), (b, a)):
        if measure.kind == "coordination_measure" and other.party == measure.controlling_party:
            return None
    return RULES.get(frozenset({a.kind, b.kind}))


@dataclass(frozen=True)
class PairVerdict:
    verdict: Verdict
    rule: OracleRule | None
    measured: bool
    """Whether some pair of volumes got as far as the distance test (a rule applies and they
    meet in time and altitude): only then does geometry decide."""


@lru_cache(maxsize=256)
def _fine(geometry_json: str) -> Shape:
    return shape_of(json.loads(geometry_json), FINE_SPACING_M)


def _decide(sa: Shape, sb: Shape, reach_m: float, margin_m: float) -> Verdict:
    if _inside(sb.samples, sa.polygons) or _inside(sa.samples, sb.polygons):
        return Verdict.CONFLICT  # they overlap: distance 0, within any reach
    sampled = sampled_distance_m(sa, sb, cap_m=reach_m + margin_m + sa.spacing_m + sb.spacing_m)
    # The true distance lies in [sampled - error, sampled].
    error = sa.error_m + sb.error_m
    if error == 0.0:
        # Two points: Geod.inv is exact to nanometres, so only the detector's 0.5 m tolerance
        # needs room. Touching counts (a centimetre covers placing points with Geod.fwd).
        if sampled <= reach_m + 0.01:
            return Verdict.CONFLICT
        if sampled > reach_m + POINT_MARGIN_M:
            return Verdict.CLEAR
        return Verdict.UNSURE
    if sampled < reach_m - margin_m:
        return Verdict.CONFLICT
    if sampled - error > reach_m + margin_m:
        return Verdict.CLEAR
    return Verdict.UNSURE


def _volume_verdict(
    va: Volume, grow_a: float, vb: Volume, grow_b: float, rule: OracleRule
) -> Verdict | None:
    """The verdict for two volumes, or ``None`` when time or altitude keep them apart."""
    if va.end < vb.start or vb.end < va.start:
        return None
    vertical = rule.vertical_m + (REFERENCE_MARGIN_M if va.reference != vb.reference else 0)
    if va.lower_m - vertical > vb.upper_m or vb.lower_m - vertical > va.upper_m:
        return None
    reach = va.buffer_m + grow_a + vb.buffer_m + grow_b + rule.horizontal_m
    first = _decide(va.shape, vb.shape, reach, MARGIN_M)
    if first is not Verdict.UNSURE:
        return first
    fine_a, fine_b = (_fine(json.dumps(v.geometry, sort_keys=True)) for v in (va, vb))
    return _decide(fine_a, fine_b, reach, FINE_MARGIN_M)


def verdict(a: Decl, b: Decl) -> PairVerdict:
    rule = rule_between(a, b)
    if rule is None:
        return PairVerdict(Verdict.CLEAR, None, measured=False)
    grow_a, grow_b = GROWTH_M.get(a.kind, 0.0), GROWTH_M.get(b.kind, 0.0)
    found = [
        v
        for va in a.volumes
        for vb in b.volumes
        if (v := _volume_verdict(va, grow_a, vb, grow_b, rule)) is not None
    ]
    if Verdict.CONFLICT in found:
        result = Verdict.CONFLICT
    elif Verdict.UNSURE in found:
        result = Verdict.UNSURE
    else:
        result = Verdict.CLEAR
    return PairVerdict(result, rule, measured=bool(found))


def expected_conflicts(decls: Sequence[Decl]) -> dict[tuple[str, str], PairVerdict]:
    """The oracle's verdict for every pair, keyed by the two ids in sorted order."""
    out = {}
    for i, a in enumerate(decls):
        for b in decls[i + 1 :]:
            key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            out[key] = verdict(a, b)
    return out
