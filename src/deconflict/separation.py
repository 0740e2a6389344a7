"""Predicted loss of separation between tracks: exact closest point of approach, vectorised.

The motion model: each aircraft flies on at its ground speed along the geodesic it is on (its
reported track angle is that geodesic's direction where it is now; the angle drifts along it,
as on any great circle) and keeps its vertical rate. Two aircraft lose separation at a moment
when the distance between their ground positions is *less than* the horizontal minimum *and*
their altitudes differ by *less than* the vertical minimum. Unlike declared volumes, touching
does not count here: the minima are the standards aircraft are flown to, and two aircraft on
adjacent flight levels, exactly 1,000 ft apart, are separated. Each minimum is lowered by its
tolerance (:data:`~deconflict.units.DISTANCE_TOLERANCE_M`,
:data:`~deconflict.units.ALTITUDE_TOLERANCE_M`) so that rounding never turns "exactly at the
minimum" into a loss; an AMSL and a W84 altitude are compared with
:data:`~deconflict.units.REFERENCE_MISMATCH_MARGIN_M` added to the vertical minimum.

Each pair is solved in its own local frame: the plane tangent to the ellipsoid at the midpoint of
the two positions, with both velocities (east/north at each aircraft's own position, so meridian
convergence near the poles is accounted for) expressed in the same earth-centred frame. In that
plane relative motion is linear and the loss interval is the root interval of a quadratic, so
time and distance at closest approach are exact for the model; the plane departs from the
ellipsoid by second-order terms (a few metres at 150 km, ``docs/tracks.md``).

Candidate pairs come from :mod:`deconflict.track_grid`; pairs whose swept boxes cannot meet are
never solved. Pure: numpy arrays in, numpy arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from deconflict.track_grid import candidate_pairs
from deconflict.units import (
    ALTITUDE_TOLERANCE_M,
    DISTANCE_TOLERANCE_M,
    FT_M,
    NM_M,
    REFERENCE_MISMATCH_MARGIN_M,
)

__all__ = [
    "REFERENCE_CODES",
    "Encounters",
    "Separation",
    "Traffic",
    "detect",
    "ecef",
    "solve_pairs",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

REFERENCE_CODES = {"W84": 0, "AMSL": 1}
"""Altitude references as stored in :attr:`Traffic.reference`."""

_A = 6_378_137.0  # WGS84 semi-major axis, metres
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_MIN_SPEED2 = 1e-12  # (m/s)^2 below which relative motion counts as none


@dataclass(frozen=True, slots=True)
class Separation:
    """Minima and look-ahead of the detection."""

    horizontal_m: float = 5 * NM_M
    vertical_m: float = 1_000 * FT_M
    lookahead_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Traffic:
    """Tracks at one common moment, as parallel arrays (one row per aircraft)."""

    party: Ints
    """A party code per row; pairs of one party are never reported."""
    lat_deg: Floats
    lon_deg: Floats
    altitude_m: Floats
    ground_speed_mps: Floats
    track_deg: Floats
    """Track angle over the ground, degrees clockwise from true north."""
    vertical_rate_mps: Floats
    reference: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    """:data:`REFERENCE_CODES` per row; empty means all W84."""

    def __len__(self) -> int:
        return int(self.lat_deg.shape[0])

    def references(self) -> npt.NDArray[np.int8]:
        if self.reference.shape[0] == len(self):
            return self.reference
        return np.zeros(len(self), np.int8)


@dataclass(frozen=True, slots=True)
class Encounters:
    """Predicted losses of separation: one row per pair ``a < b`` (row numbers in the traffic)."""

    a: Ints
    b: Ints
    t_in_s: Floats
    """When separation is lost (0: it already is)."""
    t_out_s: Floats
    """When it is regained (may lie beyond the look-ahead; ``inf``: never, on this model)."""
    tcpa_s: Floats
    """Closest approach within the loss interval and the look-ahead."""
    dcpa_m: Floats
    """Horizontal distance at ``tcpa_s``."""
    dz_m: Floats
    """Altitude of ``b`` less altitude of ``a`` at ``tcpa_s``."""

    def __len__(self) -> int:
        return int(self.a.shape[0])


def ecef(lat_deg: Floats, lon_deg: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """Earth-centred positions of the ground points and their east, north and up unit vectors,
    each an ``(n, 3)`` array.

    >>> p, east, north, up = ecef(np.array([0.0]), np.array([90.0]))
    >>> p.round(3).tolist(), east.round(6).tolist(), up.round(6).tolist()
    ([[0.0, 6378137.0, 0.0]], [[-1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    """
    phi = np.radians(lat_deg)
    lam = np.radians(lon_deg)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    n = _A / np.sqrt(1 - _E2 * sp * sp)
    p = np.stack([n * cp * cl, n * cp * sl, n * (1 - _E2) * sp], axis=1)
    east = np.stack([-sl, cl, np.zeros_like(sl)], axis=1)
    north = np.stack([-sp * cl, -sp * sl, cp], axis=1)
    up = np.stack([cp * cl, cp * sl, sp], axis=1)
    return p, east, north, up


def _velocity(traffic: Traffic, east: Floats, north: Floats) -> Floats:
    trk = np.radians(traffic.track_deg)
    gs = traffic.ground_speed_mps
    return (gs * np.sin(trk))[:, None] * east + (gs * np.cos(trk))[:, None] * north


def detect(traffic: Traffic, separation: Separation) -> Encounters:
    """Every pair of different parties predicted to lose separation within the look-ahead."""
    p, east, north, up = ecef(traffic.lat_deg, traffic.lon_deg)
    v = _velocity(traffic, east, north)
    a, b = candidate_pairs(p, v, traffic, separation)
    return solve_pairs(traffic, separation, a, b, frame=(p, v, up))


def solve_pairs(
    traffic: Traffic,
    separation: Separation,
    a: Ints,
    b: Ints,
    *,
    frame: tuple[Floats, Floats, Floats] | None = None,
) -> Encounters:
    """Solve the given pairs exactly; keep those that lose separation (and differ in party)."""
    keep = traffic.party[a] != traffic.party[b]
    a, b = a[keep], b[keep]
    if frame is None:
        p, east, north, up = ecef(traffic.lat_deg, traffic.lon_deg)
        frame = (p, _velocity(traffic, east, north), up)
    p, v, up = frame
    n = up[a] + up[b]
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    r = p[b] - p[a]
    w = v[b] - v[a]
    r -= np.sum(r * n, axis=1, keepdims=True) * n
    w -= np.sum(w * n, axis=1, keepdims=True) * n
    qa = np.sum(w * w, axis=1)
    qb = np.sum(r * w, axis=1)
    r2 = np.sum(r * r, axis=1)
    s_h = separation.horizontal_m - DISTANCE_TOLERANCE_M
    moving = qa > _MIN_SPEED2
    safe_qa = np.where(moving, qa, 1.0)
    disc = qb * qb - qa * (r2 - s_h * s_h)
    root = np.sqrt(np.maximum(disc, 0.0))
    inside_now = r2 <= s_h * s_h
    t_in_h = np.where(moving, (-qb - root) / safe_qa, np.where(inside_now, -np.inf, np.inf))
    t_out_h = np.where(moving, (-qb + root) / safe_qa, np.where(inside_now, np.inf, -np.inf))
    hit_h = np.where(moving, disc >= 0, inside_now)

    refs = traffic.references()
    margin = np.where(refs[a] != refs[b], REFERENCE_MISMATCH_MARGIN_M, 0.0)
    s_v = separation.vertical_m - ALTITUDE_TOLERANCE_M + margin
    alt = traffic.altitude_m
    vs = traffic.vertical_rate_mps
    dz0 = alt[b] - alt[a]
    dvz = vs[b] - vs[a]
    climbing = np.abs(dvz) > 1e-9
    safe_dvz = np.where(climbing, dvz, 1.0)
    t1 = (-s_v - dz0) / safe_dvz
    t2 = (s_v - dz0) / safe_dvz
    level_inside = np.abs(dz0) <= s_v
    t_in_v = np.where(climbing, np.minimum(t1, t2), np.where(level_inside, -np.inf, np.inf))
    t_out_v = np.where(climbing, np.maximum(t1, t2), np.where(level_inside, np.inf, -np.inf))

    t_in = np.maximum(np.maximum(t_in_h, t_in_v), 0.0)
    t_out = np.minimum(t_out_h, t_out_v)
    lost = hit_h & (t_in <= t_out) & (t_in <= separation.lookahead_s)
    t_in, t_out = t_in[lost], t_out[lost]
    t_free = -qb[lost] / safe_qa[lost]
    tcpa = np.clip(t_free, t_in, np.minimum(t_out, separation.lookahead_s))
    tcpa = np.where(moving[lost], tcpa, t_in)
    rel = r[lost] + w[lost] * tcpa[:, None]
    return Encounters(
        a=a[lost],
        b=b[lost],
        t_in_s=t_in,
        t_out_s=t_out,
        tcpa_s=tcpa,
        dcpa_m=np.sqrt(np.sum(rel * rel, axis=1)),
        dz_m=dz0[lost] + dvz[lost] * tcpa,
    )
