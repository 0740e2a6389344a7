"""Geodesic geometry on the WGS84 ellipsoid.

Footprints are kept as lon/lat coordinates whose edges are *geodesics* (the shortest path on the
ellipsoid, as aviation charts draw boundaries), densified so that no segment is longer than
:data:`DENSIFY_SPACING_M`. Distances between two footprints are computed in an azimuthal
equidistant plane centred on their closest approach, where distances from the centre are exact
and distortion at the closest points is far below :data:`~deconflict.units.DISTANCE_TOLERANCE_M`;
the final distance is the geodesic distance between the two closest points.

Longitudes inside one shape are *unwrapped* (consecutive positions differ by at most 180°), so a
shape that crosses the antimeridian has longitudes beyond ±180 rather than a jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Proj
from shapely.geometry.base import BaseGeometry

__all__ = [
    "DENSIFY_SPACING_M",
    "GEOD",
    "PROJECTION_GRID_DEG",
    "Approach",
    "Shape",
    "approach",
    "densify",
    "grown_intersection",
    "lonlat_box",
    "planar",
    "projection_at",
    "unproject",
    "unwrap",
    "wrap_lon",
]

GEOD = Geod(ellps="WGS84")

DENSIFY_SPACING_M = 2_000.0
"""Longest chord kept along a geodesic edge. In the local plane a 2 km chord departs from the
geodesic it stands for by well under a millimetre."""

_FAR_RELATIVE_MARGIN = 0.03
"""Distances measured in a plane centred far from the closest points can be off by up to about
1 % for the largest footprints allowed; beyond this margin a pair is certainly apart."""

_FAR_ABSOLUTE_MARGIN_M = 100.0

Coords = NDArray[np.float64]
"""An (n, 2) array of lon, lat in degrees."""


@dataclass(frozen=True, slots=True)
class Shape:
    """The core of a footprint before any buffer: a point, a line or polygons.

    ``parts`` holds, for ``polygon``, one tuple of rings per polygon (exterior first); for
    ``line`` and ``point``, a single one-element tuple with the coordinates.
    """

    kind: Literal["point", "line", "polygon"]
    parts: tuple[tuple[Coords, ...], ...]
    bounds: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)
    """min_lon, min_lat, max_lon, max_lat (longitudes unwrapped)"""

    @property
    def reference(self) -> tuple[float, float]:
        """A lon/lat inside the shape's bounding box, used to align longitude wraps."""
        lon0, lat0, lon1, lat1 = self.bounds
        return ((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0)

    def __post_init__(self) -> None:
        # Computed once: detection asks for the bounds of both shapes of every candidate pair.
        allc = np.concatenate([ring for part in self.parts for ring in part])
        lo, hi = allc.min(axis=0), allc.max(axis=0)
        object.__setattr__(self, "bounds", (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))

    def shifted(self, dlon: float) -> Shape:
        if dlon == 0.0:
            return self
        offset = np.array([dlon, 0.0])
        return Shape(self.kind, tuple(tuple(r + offset for r in part) for part in self.parts))


@dataclass(frozen=True, slots=True)
class Approach:
    """Closest approach between two shapes: geodesic distance and the two closest points."""

    distance_m: float
    point_a: tuple[float, float]
    point_b: tuple[float, float]


def unwrap(lons: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shift longitudes by multiples of 360° so that consecutive ones differ by at most 180°.

    >>> unwrap(np.array([179.0, -179.0, -178.0])).tolist()
    [179.0, 181.0, 182.0]
    """
    steps = np.diff(lons)
    fix = np.where(steps > 180.0, -360.0, np.where(steps < -180.0, 360.0, 0.0))
    return np.asarray(lons + np.concatenate([[0.0], np.cumsum(fix)]), dtype=np.float64)


def wrap_lon(lon: NDArray[np.float64], around: float = 0.0) -> NDArray[np.float64]:
    """Longitudes moved by multiples of 360° to within 180° of ``around``.

    >>> wrap_lon(np.array([190.0, -170.0]), around=180.0).tolist()
    [190.0, 190.0]
    """
    return np.asarray(around + (lon - around + 180.0) % 360.0 - 180.0, dtype=np.float64)


def unproject(xy: NDArray[np.float64], proj: Proj, around_lon: float) -> NDArray[np.float64]:
    """Plane coordinates of ``proj`` back to lon/lat, longitudes continuous around
    ``around_lon`` so that a shape across the antimeridian stays valid."""
    lon, lat = proj(xy[:, 0], xy[:, 1], inverse=True)
    return np.column_stack([wrap_lon(np.asarray(lon), around_lon), lat])


def densify(coords: Coords, spacing_m: float = DENSIFY_SPACING_M) -> Coords:
    """Insert points along each geodesic edge so no chord is longer than ``spacing_m``."""
    if len(coords) < 2:
        return coords
    lon1, lat1 = coords[:-1, 0], coords[:-1, 1]
    lon2, lat2 = coords[1:, 0], coords[1:, 1]
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    counts = np.ceil(np.asarray(dist) / spacing_m).astype(int) - 1
    if not (counts > 0).any():
        return coords
    out: list[Coords] = []
    for i, n in enumerate(counts):
        out.append(coords[i : i + 1])
        if n > 0:
            mids = GEOD.npts(lon1[i], lat1[i], lon2[i], lat2[i], int(n))
            out.append(np.asarray(mids, dtype=np.float64).reshape(-1, 2))
    out.append(coords[-1:])
    dense = np.concatenate(out)
    dense[:, 0] = unwrap(dense[:, 0]) + (coords[0, 0] - dense[0, 0])
    return dense


PROJECTION_GRID_DEG = 0.05
"""Projection centres snap to this grid so that projections are reused (creating one costs
about 0.1 ms). A centre at most ~3 km from the closest approach keeps the plane isometric there
to within micrometres, and the distance reported is the geodesic one between the points found."""


_COARSE_GRID_DEG = 0.5
"""Grid of the first, rough pass, which only has to find roughly where two shapes are closest."""


_DISPLAY_GRID_DEG = 0.25
"""Grid of the plane in which overlap polygons are drawn (for display: ~0.2 m at 35 km)."""


@lru_cache(maxsize=16_384)
def _projection(lon_c: float, lat_c: float) -> Proj:
    return Proj(proj="aeqd", lat_0=lat_c, lon_0=lon_c, ellps="WGS84", units="m")


def projection_at(lon: float, lat: float, grid_deg: float = PROJECTION_GRID_DEG) -> Proj:
    """An azimuthal equidistant projection centred near (lon, lat), on a grid of ``grid_deg``."""
    lon_n = float(wrap_lon(np.array(lon)))
    lat_c = max(-90.0, min(90.0, lat))
    return _projection(round(lon_n / grid_deg) * grid_deg, round(lat_c / grid_deg) * grid_deg)


def _plane(coords: Coords, proj: Proj) -> NDArray[np.float64]:
    x, y = proj(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def planar(shape: Shape, proj: Proj) -> BaseGeometry:
    """The shape in the plane of ``proj`` as a shapely geometry."""
    if shape.kind == "point":
        x, y = proj(float(shape.parts[0][0][0, 0]), float(shape.parts[0][0][0, 1]))
        return shapely.Point(x, y)
    if shape.kind == "line":
        return shapely.LineString(_plane(shape.parts[0][0], proj))
    polys = [
        shapely.Polygon(_plane(part[0], proj), [_plane(h, proj) for h in part[1:]])
        for part in shape.parts
    ]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _aligned(a: Shape, b: Shape) -> Shape:
    """``b`` shifted by a multiple of 360° of longitude to lie next to ``a``."""
    ra, rb = a.reference[0], b.reference[0]
    return b.shifted(360.0 * round((ra - rb) / 360.0))


def _closest(
    pa: BaseGeometry, pb: BaseGeometry, proj: Proj
) -> tuple[float, tuple[float, float], tuple[float, float]]:
    line = shapely.shortest_line(pa, pb)
    (xa, ya), (xb, yb) = line.coords
    lon_a, lat_a = proj(xa, ya, inverse=True)
    lon_b, lat_b = proj(xb, yb, inverse=True)
    return float(line.length), (float(lon_a), float(lat_a)), (float(lon_b), float(lat_b))


def approach(a: Shape, b: Shape, *, far_m: float = math.inf) -> Approach | None:
    """Closest approach of two shapes; ``None`` when they are certainly more than ``far_m``
    apart (a shortcut that skips the refined computation)."""
    if a.kind == "point" and b.kind == "point":
        (lon_a, lat_a), (lon_b, lat_b) = a.parts[0][0][0], b.parts[0][0][0]
        _, _, dist = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
        return Approach(float(dist), (float(lon_a), float(lat_a)), (float(lon_b), float(lat_b)))
    b = _aligned(a, b)
    lon0, lat0, lon1, lat1 = a.bounds
    blon0, blat0, blon1, blat1 = b.bounds
    proj = projection_at(
        (min(lon0, blon0) + max(lon1, blon1)) / 2.0,
        (min(lat0, blat0) + max(lat1, blat1)) / 2.0,
        _COARSE_GRID_DEG,
    )
    pa, pb = planar(a, proj), planar(b, proj)
    rough, p, q = _closest(pa, pb, proj)
    if rough == 0.0:  # they intersect
        return Approach(0.0, p, q)
    if rough > far_m * (1.0 + _FAR_RELATIVE_MARGIN) + _FAR_ABSOLUTE_MARGIN_M:
        return None
    # Refine in a plane centred on the closest approach, where the projection is isometric to
    # well under a millimetre over the distances that matter.
    mid_lon, mid_lat = GEOD.npts(p[0], p[1], q[0], q[1], 1)[0]
    proj = projection_at(mid_lon, mid_lat)
    pa, pb = planar(a, proj), planar(b, proj)
    _, p, q = _closest(pa, pb, proj)
    _, _, dist = GEOD.inv(p[0], p[1], q[0], q[1])
    return Approach(float(dist), p, q)


def grown_intersection(
    a: Shape, grow_a_m: float, b: Shape, grow_b_m: float, centre: tuple[float, float]
) -> BaseGeometry:
    """The intersection of ``a`` grown by ``grow_a_m`` and ``b`` grown by ``grow_b_m``, as a
    lon/lat polygon (for display; circles have 64 sides). Degenerate intersections (shapes that
    only touch) come back as a 1 m disc around the contact so every overlap has an area."""
    b = _aligned(a, b)
    proj = projection_at(*centre, grid_deg=_DISPLAY_GRID_DEG)
    pa = planar(a, proj).buffer(grow_a_m, quad_segs=16) if grow_a_m > 0 else planar(a, proj)
    pb = planar(b, proj).buffer(grow_b_m, quad_segs=16) if grow_b_m > 0 else planar(b, proj)
    inter = shapely.intersection(pa, pb)
    if inter.is_empty or inter.area < 1.0:
        x, y = proj(*centre)
        seed = inter if not inter.is_empty else shapely.Point(x, y)
        inter = seed.buffer(1.0, quad_segs=4)
    inter = shapely.make_valid(inter)
    polys = [g for g in getattr(inter, "geoms", [inter]) if g.geom_type == "Polygon" and g.area]
    geom = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)

    return shapely.transform(geom, lambda xy: unproject(xy, proj, centre[0]))


def lonlat_box(shape: Shape, grow_m: float) -> list[tuple[float, float, float, float]]:
    """Lon/lat boxes (min_lon, min_lat, max_lon, max_lat) with longitudes in [-180, 180] that
    together cover the shape grown by ``grow_m``; a box that crosses the antimeridian is split,
    one that reaches a pole covers every longitude."""
    lon0, lat0, lon1, lat1 = shape.bounds
    grow_m = grow_m * 1.01 + 10.0  # geodesic edges bulge a little beyond their vertices
    dlat = grow_m / 110_574.0
    lat0, lat1 = lat0 - dlat, lat1 + dlat
    if lat0 <= -89.0 or lat1 >= 89.0:
        return [(-180.0, max(lat0, -90.0), 180.0, min(lat1, 90.0))]
    widest = math.cos(math.radians(max(abs(lat0), abs(lat1))))
    dlon = grow_m / (111_320.0 * widest)
    lon0, lon1 = lon0 - dlon, lon1 + dlon
    if lon1 - lon0 >= 360.0:
        return [(-180.0, lat0, 180.0, lat1)]
    shift = 360.0 * math.floor((lon0 + 180.0) / 360.0)
    lon0, lon1 = lon0 - shift, lon1 - shift
    if lon1 <= 180.0:
        return [(lon0, lat0, lon1, lat1)]
    return [(lon0, lat0, 180.0, lat1), (-180.0, lat0, lon1 - 360.0, lat1)]
