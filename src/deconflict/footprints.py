"""Footprints: GeoJSON geometries with a buffer, validated and prepared for geodesic tests.

Rules (each a stable ``rule`` code in an :class:`~deconflict.errors.InvalidInput`):
positions are ``[lon, lat]`` with finite numbers in range; rings are closed, have at least four
positions, do not cross themselves, enclose an area and no pole; points and lines need a positive
``buffer_m``; a footprint is at most :data:`MAX_VERTICES` positions, :data:`MAX_AREA_M2` in area
and :data:`MAX_RADIUS_M` from its centre. Consecutive positions more than 180° of longitude apart
cross the antimeridian the short way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from deconflict.errors import FieldError, InvalidInput, pointer_token
from deconflict.geodesy import GEOD, Shape, densify, planar, projection_at, unproject, unwrap

__all__ = [
    "GEOMETRY_TYPES",
    "MAX_AREA_M2",
    "MAX_BUFFER_M",
    "MAX_RADIUS_M",
    "MAX_VERTICES",
    "Footprint",
    "parse_footprint",
]

GEOMETRY_TYPES = ("Polygon", "MultiPolygon", "Point", "LineString")
MAX_VERTICES = 10_000
MAX_AREA_M2 = 500_000e6
"""500,000 km², about the size of Syria and Iraq together halved; larger areas say nothing."""
MAX_RADIUS_M = 1_500_000.0
"""No position of a footprint lies further than this from its centre (a launch corridor from the
Caspian Sea to Syria is about 1,300 km long)."""
MAX_BUFFER_M = 500_000.0
MIN_AREA_M2 = 1.0


@dataclass(frozen=True, slots=True)
class Footprint:
    """A validated footprint: the geometry as given (GeoJSON) and its buffer in metres."""

    geometry: Mapping[str, Any]
    buffer_m: float
    shape: Shape = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"geometry": dict(self.geometry), "buffer_m": self.buffer_m}


def _finite(value: float) -> bool:
    """``math.isfinite``, also for JSON integers too large for a float (it raises on those)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, pointer: str, rule: str, detail: str) -> None:
        self.items.append(FieldError(pointer, rule, detail))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)


def _positions(raw: Any, pointer: str, errors: _Errors) -> np.ndarray | None:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        errors.add(pointer, "type", "expected an array of positions")
        return None
    if len(raw) > MAX_VERTICES:
        errors.add(pointer, "max_vertices", f"more than {MAX_VERTICES} positions")
        return None
    out = np.empty((len(raw), 2), dtype=np.float64)
    for i, pos in enumerate(raw):
        lonlat = _position(pos, f"{pointer}/{i}", errors)
        if lonlat is None:
            return None
        out[i] = lonlat
    return out


def _position(pos: Any, p: str, errors: _Errors) -> tuple[float, float] | None:
    if not isinstance(pos, Sequence) or isinstance(pos, str | bytes):
        errors.add(p, "type", "a position is an array [lon, lat]")
        return None
    if len(pos) != 2:
        errors.add(
            p,
            "position_dimensions",
            "a position is [lon, lat]; altitude belongs in the volume's altitude band",
        )
        return None
    lon, lat = pos
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lon, lat)):
        errors.add(p, "type", "longitude and latitude are numbers")
        return None
    if not (_finite(lon) and _finite(lat)):
        errors.add(p, "finite", "longitude and latitude must be finite numbers")
        return None
    if not -180.0 <= lon <= 180.0:
        errors.add(f"{p}/0", "lon_range", f"longitude {lon} is outside [-180, 180]")
        return None
    if not -90.0 <= lat <= 90.0:
        errors.add(f"{p}/1", "lat_range", f"latitude {lat} is outside [-90, 90]")
        return None
    return float(lon), float(lat)


def _ring(raw: Any, pointer: str, errors: _Errors) -> np.ndarray | None:
    pos = _positions(raw, pointer, errors)
    if pos is None:
        return None
    if len(pos) < 4:
        errors.add(pointer, "ring_min_positions", "a linear ring has at least 4 positions")
        return None
    if not np.array_equal(pos[0], pos[-1]):
        errors.add(pointer, "ring_not_closed", "a linear ring ends with its first position")
        return None
    pos[:, 0] = unwrap(pos[:, 0])
    if abs(pos[-1, 0] - pos[0, 0]) > 1.0:
        errors.add(
            pointer,
            "encloses_pole",
            "the ring goes round a pole; describe polar areas as a point with a buffer",
        )
        return None
    return densify(pos)


def _polygon(raw: Any, pointer: str, errors: _Errors) -> tuple[np.ndarray, ...] | None:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        errors.add(pointer, "polygon_rings", "a polygon is a non-empty array of linear rings")
        return None
    rings = [_ring(r, f"{pointer}/{i}", errors) for i, r in enumerate(raw)]
    checked = [r for r in rings if r is not None]
    if len(checked) != len(rings):
        return None
    shell = checked[0]
    return (shell, *(_beside(r, shell) for r in checked[1:]))


def _beside(coords: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``coords`` shifted by a multiple of 360° of longitude to lie next to ``ref``."""
    shifted: np.ndarray = coords + np.array(
        [360.0 * round((ref[0, 0] - coords[0, 0]) / 360.0), 0.0]
    )
    return shifted


def _geometry(raw: Any, pointer: str, errors: _Errors) -> Shape | None:
    if not isinstance(raw, Mapping):
        errors.add(pointer, "type", "a geometry is a GeoJSON object")
        return None
    gtype = raw.get("type")
    if gtype not in GEOMETRY_TYPES:
        errors.add(f"{pointer}/type", "geometry_type", f"geometry type is one of {GEOMETRY_TYPES}")
        return None
    extra = set(raw) - {"type", "coordinates"}
    if extra:
        errors.add(
            f"{pointer}/{pointer_token(sorted(extra)[0])}",
            "unknown_field",
            "unknown geometry member",
        )
        return None
    coords = raw.get("coordinates")
    cp = f"{pointer}/coordinates"
    if coords is None:
        errors.add(cp, "required", "coordinates are required")
        return None
    if gtype == "Point":
        lonlat = _position(coords, cp, errors)
        return None if lonlat is None else Shape("point", ((np.array([lonlat]),),))
    if gtype == "LineString":
        pos = _positions(coords, cp, errors)
        if pos is None:
            return None
        if len(pos) < 2:
            errors.add(cp, "line_min_positions", "a line has at least 2 positions")
            return None
        pos[:, 0] = unwrap(pos[:, 0])
        if not (pos != pos[0]).any():
            errors.add(cp, "zero_length", "a line has two distinct positions at least")
            return None
        return Shape("line", ((densify(pos),),))
    if gtype == "Polygon":
        poly = _polygon(coords, cp, errors)
        return None if poly is None else Shape("polygon", (poly,))
    if not isinstance(coords, Sequence) or isinstance(coords, str | bytes) or not coords:
        errors.add(cp, "multipolygon_parts", "a multipolygon is a non-empty array of polygons")
        return None
    if (
        sum(len(r) for p in coords if isinstance(p, Sequence) for r in p if isinstance(r, Sequence))
        > MAX_VERTICES
    ):
        errors.add(cp, "max_vertices", f"more than {MAX_VERTICES} positions")
        return None
    polys = [_polygon(p, f"{cp}/{i}", errors) for i, p in enumerate(coords)]
    checked = [p for p in polys if p is not None]
    if len(checked) != len(polys):
        return None
    ref = checked[0][0]
    return _joined(Shape("polygon", tuple(tuple(_beside(r, ref) for r in p) for p in checked)))


_JOIN_GRID_M = 0.001
"""Precision at which parts that share an edge are joined: their common edge is densified the
same way from both sides, so it matches to far better than a millimetre."""


def _joined(shape: Shape) -> Shape:
    """Polygons that only share edges become one: RFC 7946 asks that a shape crossing the
    antimeridian be split there into a MultiPolygon. Overlapping parts are left as they are, for
    the validity check to refuse."""
    if len(shape.parts) < 2:
        return shape
    lon_c, lat_c = shape.reference
    proj = projection_at(lon_c, lat_c)
    parts = [planar(Shape("polygon", (p,)), proj) for p in shape.parts]
    union = shapely.union_all(parts, grid_size=_JOIN_GRID_M)
    total = sum(p.area for p in parts)
    polys = list(getattr(union, "geoms", [union]))
    if (
        not polys
        or total <= 0.0
        or len(polys) == len(parts)
        or abs(union.area - total) > 1e-6 * total
    ):
        return shape  # nothing to join (degenerate parts are refused by the extent check)

    def lonlat(ring: Any) -> np.ndarray:
        return unproject(np.asarray(ring.coords, dtype=np.float64), proj, lon_c)

    return Shape(
        "polygon",
        tuple((lonlat(p.exterior), *(lonlat(h) for h in p.interiors)) for p in polys),
    )


def _check_extent(shape: Shape, buffer_m: float, pointer: str, errors: _Errors) -> None:
    lon_c, lat_c = shape.reference
    allc = np.concatenate([r for part in shape.parts for r in part])
    _, _, dist = GEOD.inv(
        np.full(len(allc), lon_c), np.full(len(allc), lat_c), allc[:, 0], allc[:, 1]
    )
    if float(np.max(dist)) + buffer_m > MAX_RADIUS_M:
        errors.add(
            pointer,
            "max_extent",
            f"the footprint reaches beyond {MAX_RADIUS_M / 1e3:g} km from its centre",
        )
        return
    geom = planar(shape, projection_at(lon_c, lat_c))
    if shape.kind == "polygon":
        reason = shapely.is_valid_reason(geom)
        if reason != "Valid Geometry":
            # A ring that folds back on itself (collinear positions) is invalid too, but what is
            # wrong with it is that it encloses nothing.
            if shapely.make_valid(geom).area < MIN_AREA_M2:
                errors.add(pointer, "zero_area", "the polygon encloses no area")
            else:
                errors.add(pointer, "self_intersection", f"invalid polygon: {reason}")
            return
        if geom.area < MIN_AREA_M2:
            errors.add(pointer, "zero_area", "the polygon encloses no area")
            return
        area = sum(
            abs(GEOD.polygon_area_perimeter(part[0][:, 0], part[0][:, 1])[0])
            for part in shape.parts
        )
        perimeter = geom.length
    else:
        area, perimeter = 0.0, 2.0 * geom.length
    grown = area + perimeter * buffer_m + math.pi * buffer_m**2
    if grown > MAX_AREA_M2:
        errors.add(
            pointer,
            "max_area",
            f"the footprint covers about {grown / 1e6:,.0f} km², more "
            f"than the {MAX_AREA_M2 / 1e6:,.0f} km² allowed",
        )


def parse_footprint(
    geometry: Any, buffer_m: Any, pointer: str = "", *, trusted: bool = False
) -> Footprint:
    """Validate a GeoJSON geometry and buffer; ``pointer`` is the JSON Pointer of the volume
    they came in, for error messages."""
    errors = _Errors()
    gp, bp = f"{pointer}/geometry", f"{pointer}/buffer_m"
    if buffer_m is None:
        buffer = 0.0
    elif isinstance(buffer_m, bool) or not isinstance(buffer_m, int | float):
        errors.add(bp, "type", "buffer_m is a number of metres")
        buffer = 0.0
    elif not _finite(buffer_m) or buffer_m < 0:
        errors.add(bp, "buffer_range", "buffer_m is a finite number of metres, 0 or more")
        buffer = 0.0
    elif buffer_m > MAX_BUFFER_M:
        errors.add(bp, "buffer_range", f"buffer_m is at most {MAX_BUFFER_M:g}")
        buffer = 0.0
    else:
        buffer = float(buffer_m)
    shape = _geometry(geometry, gp, errors)
    errors.raise_if_any()
    assert shape is not None
    if shape.kind in ("point", "line") and buffer <= 0.0:
        errors.add(bp, "buffer_required", "a Point or LineString needs buffer_m greater than 0")
    elif not trusted:  # written by this service after the same checks: only rebuild it
        _check_extent(shape, buffer, gp, errors)
    errors.raise_if_any()
    return Footprint(geometry=geometry, buffer_m=buffer, shape=shape)
