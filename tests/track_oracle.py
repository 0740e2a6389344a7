"""A brute-force oracle for predicted loss of separation, independent of deconflict.

Every pair of aircraft of different parties is examined: no index, no boxes, no local plane.
Each aircraft is moved along its geodesic on WGS84 with :meth:`pyproj.Geod.fwd` (ground speed
times time), its altitude by its vertical rate; the horizontal distance is the geodesic distance
between the two ground positions (:meth:`pyproj.Geod.inv`).

A pair is judged by one function of time, its *excess*::

    excess(t) = max(distance(t) - horizontal limit, |altitude difference(t)| - vertical limit)

which is below zero exactly when separation is lost at ``t``: touching does not count, the
minima being the standards aircraft are flown to (two aircraft on adjacent flight levels,
exactly 1,000 ft apart, are separated), and each limit is the minimum *lowered* by a slack, so
that being exactly at the minimum, or a hair inside it, is never a loss. Both terms
are (nearly) convex in time, so the excess is too and a pair has one loss interval at most.
The excess is sampled every :data:`STEP_S` over ``[0, lookahead]``; every sampled local
minimum is refined by golden-section search, and loss boundaries by bisection, to well under a
millisecond. The refined minimum of the excess over the look-ahead is the pair's
:attr:`PairVerdict.margin_m`; a caller decides how close to zero it is willing to trust another
model's answer.

The limits are the rules of ``src/deconflict/separation.py`` and ``src/deconflict/units.py``
written out again here (not imported): the horizontal minimum less half a metre, the vertical
minimum less a millimetre, and 110 m more vertically between an ellipsoidal (W84) and a
mean-sea-level (AMSL) altitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pyproj import Geod

__all__ = [
    "ALTITUDE_SLACK_M",
    "DISTANCE_SLACK_M",
    "REFERENCE_MARGIN_M",
    "STEP_S",
    "Aircraft",
    "Loss",
    "Oracle",
    "PairVerdict",
]

GEOD = Geod(ellps="WGS84")

STEP_S = 0.5
"""Sampling step of the first pass over the look-ahead."""
DISTANCE_SLACK_M = 0.5
"""Taken off the horizontal minimum: a pair must come closer than the minimum less this."""
ALTITUDE_SLACK_M = 0.001
"""Taken off the vertical minimum."""
REFERENCE_MARGIN_M = 110.0
"""Added to the vertical minimum between a W84 and an AMSL altitude."""

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_TIME_RESOLUTION_S = 1e-6

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Aircraft:
    party: int
    lat_deg: float
    lon_deg: float
    altitude_m: float
    ground_speed_mps: float
    track_deg: float
    vertical_rate_mps: float
    reference: str = "W84"

    def ground_at(self, t: Floats) -> tuple[Floats, Floats]:
        """Longitudes and latitudes at the times ``t`` (seconds from now)."""
        n = t.shape[0]
        lon, lat, _ = GEOD.fwd(
            np.full(n, self.lon_deg),
            np.full(n, self.lat_deg),
            np.full(n, self.track_deg),
            self.ground_speed_mps * t,
        )
        return np.asarray(lon, np.float64), np.asarray(lat, np.float64)

    def altitude_at(self, t: Floats) -> Floats:
        return self.altitude_m + self.vertical_rate_mps * t


@dataclass(frozen=True)
class Loss:
    t_in_s: float
    """First moment of loss within the look-ahead (0: already lost)."""
    t_out_s: float
    """Last moment of loss within the look-ahead (the look-ahead itself if still lost then)."""
    tcpa_s: float
    """Closest horizontal approach within ``[t_in_s, t_out_s]``."""
    dcpa_m: float
    dz_m: float
    """Altitude of ``b`` less altitude of ``a`` at :attr:`tcpa_s`."""


@dataclass(frozen=True)
class PairVerdict:
    a: int
    b: int
    margin_m: float
    """Least excess over the look-ahead: negative by how much separation is lost, positive by how
    much it is kept."""
    t_margin_s: float
    """When the least excess occurs."""
    loss: Loss | None


class Oracle:
    """The pairs of ``aircraft`` (rows ``a < b``) and how they fare over the look-ahead."""

    def __init__(
        self,
        aircraft: Sequence[Aircraft],
        *,
        horizontal_m: float,
        vertical_m: float,
        lookahead_s: float,
    ) -> None:
        self.aircraft = tuple(aircraft)
        self.horizontal_m = horizontal_m
        self.vertical_m = vertical_m
        self.lookahead_s = lookahead_s
        count = max(1, math.ceil(lookahead_s / STEP_S))
        self.times = np.linspace(0.0, lookahead_s, count + 1)
        self._ground = [ac.ground_at(self.times) for ac in self.aircraft]

    # -- the model, at any moment ------------------------------------------------------------

    def horizontal_limit_m(self) -> float:
        """Separation is lost only closer than this."""
        return self.horizontal_m - DISTANCE_SLACK_M

    def vertical_limit_m(self, a: int, b: int) -> float:
        """... and only with altitudes less than this apart."""
        mixed = self.aircraft[a].reference != self.aircraft[b].reference
        return self.vertical_m - ALTITUDE_SLACK_M + (REFERENCE_MARGIN_M if mixed else 0.0)

    def distance_m(self, a: int, b: int, t: Floats) -> Floats:
        lon_a, lat_a = self.aircraft[a].ground_at(t)
        lon_b, lat_b = self.aircraft[b].ground_at(t)
        _, _, d = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
        return np.asarray(d, np.float64)

    def dz_m(self, a: int, b: int, t: Floats) -> Floats:
        return self.aircraft[b].altitude_at(t) - self.aircraft[a].altitude_at(t)

    def excess_m(self, a: int, b: int, t: Floats, widen_m: float = 0.0) -> Floats:
        """The excess at the times ``t``, with the horizontal limit widened by ``widen_m``
        (narrowed if negative)."""
        horizontal = self.distance_m(a, b, t) - self.horizontal_limit_m() - widen_m
        vertical = np.abs(self.dz_m(a, b, t)) - self.vertical_limit_m(a, b)
        return np.maximum(horizontal, vertical)

    def at(self, fn: Callable[[int, int, Floats], Floats], a: int, b: int, t: float) -> float:
        return float(fn(a, b, np.array([t]))[0])

    # -- verdicts ----------------------------------------------------------------------------

    def pairs(self) -> list[PairVerdict]:
        """Every pair of different parties."""
        n = len(self.aircraft)
        return [
            self.verdict(a, b)
            for a in range(n)
            for b in range(a + 1, n)
            if self.aircraft[a].party != self.aircraft[b].party
        ]

    def least_excess(self, a: int, b: int, widen_m: float = 0.0) -> tuple[float, float]:
        """When the excess is least over the look-ahead, and that least excess, with the
        horizontal limit widened by ``widen_m`` (narrowed if negative): separation is lost
        exactly when it is below zero."""
        return self._least_excess(a, b, self._sampled_excess(a, b, widen_m), widen_m)

    def verdict(self, a: int, b: int) -> PairVerdict:
        ts = self.times
        sampled = self._sampled_excess(a, b)
        t_min, margin = self._least_excess(a, b, sampled)
        if margin >= 0.0:
            return PairVerdict(a, b, margin, t_min, None)

        lost = sampled < 0.0
        if lost[0]:
            t_in = 0.0
        else:
            k = int(np.argmax(lost)) if lost.any() else int(np.searchsorted(ts, t_min))
            hi = float(ts[k]) if lost.any() else t_min
            lo = float(ts[max(k - 1, 0)])
            t_in = self._boundary(a, b, lo, hi)
        after = np.flatnonzero((ts > max(t_in, t_min)) & ~lost)
        if after.size == 0:
            t_out = float(ts[-1])
        else:
            k = int(after[0])
            # The last lost moment lies between the previous sample (or the minimum) and this one.
            t_out = self._boundary(a, b, float(ts[k]), max(float(ts[k - 1]), t_min, t_in))

        inside = (ts > t_in) & (ts < t_out)
        grid = np.concatenate([[t_in], ts[inside], [t_out]])
        tcpa, dcpa = self._least(
            lambda t: self.distance_m(a, b, t), self.distance_m(a, b, grid), t_in, t_out, grid
        )
        loss = Loss(t_in, t_out, tcpa, dcpa, self.at(self.dz_m, a, b, tcpa))
        return PairVerdict(a, b, margin, t_min, loss)

    def first_within(self, a: int, b: int, level_m: float) -> float | None:
        """The first moment in the look-ahead at which the excess is below ``level_m``."""
        ts = self.times
        sampled = self.excess_m(a, b, ts)
        below = sampled < level_m
        if below[0]:
            return 0.0
        if below.any():
            k = int(np.argmax(below))
            return self._boundary(a, b, float(ts[k - 1]), float(ts[k]), level_m)
        t_min, least = self._least(lambda t: self.excess_m(a, b, t), sampled, 0.0, ts[-1])
        if least >= level_m:
            return None
        lo = float(ts[max(int(np.searchsorted(ts, t_min)) - 1, 0)])
        return self._boundary(a, b, lo, t_min, level_m)

    # -- numerics ----------------------------------------------------------------------------

    def _sampled_excess(self, a: int, b: int, widen_m: float = 0.0) -> Floats:
        """The excess at the oracle's own times, from the ground positions computed once."""
        _, _, d = GEOD.inv(*self._ground[a], *self._ground[b])
        return np.maximum(
            np.asarray(d, np.float64) - self.horizontal_limit_m() - widen_m,
            np.abs(self.dz_m(a, b, self.times)) - self.vertical_limit_m(a, b),
        )

    def _least_excess(
        self, a: int, b: int, sampled: Floats, widen_m: float = 0.0
    ) -> tuple[float, float]:
        def excess(t: Floats) -> Floats:
            return self.excess_m(a, b, t, widen_m)

        return self._least(excess, sampled, 0.0, float(self.times[-1]))

    def _boundary(self, a: int, b: int, outside: float, inside: float, level: float = 0.0) -> float:
        """Bisect to the moment where the excess crosses ``level`` between a moment at or above
        it and a moment below it; return the moment on the lost side."""
        for _ in range(60):
            if abs(inside - outside) <= _TIME_RESOLUTION_S:
                break
            mid = (outside + inside) / 2.0
            if self.at(self.excess_m, a, b, mid) < level:
                inside = mid
            else:
                outside = mid
        return inside

    def _least(
        self,
        fn: Callable[[Floats], Floats],
        sampled: Floats,
        lo: float,
        hi: float,
        grid: Floats | None = None,
    ) -> tuple[float, float]:
        """The least value of ``fn`` on ``[lo, hi]``: refine every local minimum of the samples
        (taken at ``grid``, by default the oracle's own times) by golden-section search between
        its neighbours."""
        ts = self.times if grid is None else grid
        if ts.shape[0] == 1:
            return float(ts[0]), float(sampled[0])
        left = np.r_[np.inf, sampled[:-1]]
        right = np.r_[sampled[1:], np.inf]
        # Strict on the left so that a plateau is refined once, not at every sample.
        minima = np.flatnonzero((sampled < left) & (sampled <= right))
        best_t, best = float(ts[0]), float(sampled[0])
        for k in minima:
            t0 = float(ts[max(k - 1, 0)])
            t1 = float(ts[min(k + 1, ts.shape[0] - 1)])
            t, value = _golden(lambda t: float(fn(np.array([t]))[0]), max(t0, lo), min(t1, hi))
            if float(sampled[k]) < value:
                t, value = float(ts[k]), float(sampled[k])
            if value < best:
                best_t, best = t, value
        return best_t, best


def _golden(fn: Callable[[float], float], lo: float, hi: float) -> tuple[float, float]:
    """Minimum of a unimodal function on ``[lo, hi]``, ends included."""
    ends = [(fn(lo), lo), (fn(hi), hi)]
    x1 = hi - _GOLDEN * (hi - lo)
    x2 = lo + _GOLDEN * (hi - lo)
    f1, f2 = fn(x1), fn(x2)
    while hi - lo > _TIME_RESOLUTION_S:
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - _GOLDEN * (hi - lo)
            f1 = fn(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + _GOLDEN * (hi - lo)
            f2 = fn(x2)
    value, t = min([*ends, (f1, x1), (f2, x2)])
    return t, value
