"""Candidate pairs for :mod:`deconflict.separation`: a cell index over swept boxes.

Each aircraft sweeps, within the look-ahead, a straight segment in earth-centred coordinates;
its box is that segment's bounding box grown by half the horizontal minimum, by the tolerance,
and by the segment's departure from the curved earth (``(v·T)² / 2R``), and, in altitude, its
band over the look-ahead grown by half the vertical minimum. Two aircraft can lose separation
only if their boxes meet. Boxes are entered into a grid over (x, y, z, altitude) whose cells are
sized from speed times look-ahead + separation, so a box covers a few cells; two aircraft become a
candidate pair in the lowest cell both cover (so each pair is produced once), and only if their
boxes meet. Earth-centred cells need no special case at the antimeridian or the poles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from deconflict.units import ALTITUDE_TOLERANCE_M, DISTANCE_TOLERANCE_M, REFERENCE_MISMATCH_MARGIN_M

if TYPE_CHECKING:
    from deconflict.separation import Separation, Traffic

__all__ = ["MAX_CELLS_PER_BOX", "candidate_pairs", "swept_boxes"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_EARTH_RADIUS_MIN_M = 6_335_000.0  # smallest radius of curvature of WGS84 (meridian, equator)
_MIN_CELL_M = 1_000.0
_MIN_CELL_ALT_M = 100.0
_SPEED_QUANTILE = 0.9
MAX_CELLS_PER_BOX = 64
"""A box covering more cells (an aircraft far faster or climbing far faster than the rest) is
not entered into the grid but compared with every other box: a few such reports cost time in
proportion to their number, never memory in proportion to their speed."""


def swept_boxes(
    p: Floats, v: Floats, traffic: Traffic, separation: Separation
) -> tuple[Floats, Floats]:
    """Low and high corners, ``(n, 4)``: x, y, z (metres, earth-centred) and altitude."""
    t = separation.lookahead_s
    end = p + v * t
    reach = traffic.ground_speed_mps * t
    grow = (
        separation.horizontal_m / 2
        + DISTANCE_TOLERANCE_M
        + reach * reach / (2 * _EARTH_RADIUS_MIN_M)
    )
    lo = np.empty((len(traffic), 4))
    hi = np.empty((len(traffic), 4))
    lo[:, :3] = np.minimum(p, end) - grow[:, None]
    hi[:, :3] = np.maximum(p, end) + grow[:, None]
    refs = traffic.references()
    mixed = refs.size > 0 and bool(np.any(refs != refs[0]))
    grow_v = (
        separation.vertical_m / 2
        + ALTITUDE_TOLERANCE_M
        + (REFERENCE_MISMATCH_MARGIN_M / 2 if mixed else 0.0)
    )
    alt_end = traffic.altitude_m + traffic.vertical_rate_mps * t
    lo[:, 3] = np.minimum(traffic.altitude_m, alt_end) - grow_v
    hi[:, 3] = np.maximum(traffic.altitude_m, alt_end) + grow_v
    return lo, hi


def _cell_sizes(traffic: Traffic, separation: Separation) -> Floats:
    t = separation.lookahead_s
    if len(traffic) == 0:
        return np.array([_MIN_CELL_M] * 3 + [_MIN_CELL_ALT_M])
    speed = float(np.quantile(traffic.ground_speed_mps, _SPEED_QUANTILE))
    climb = float(np.quantile(np.abs(traffic.vertical_rate_mps), _SPEED_QUANTILE))
    h = max(speed * t + separation.horizontal_m, _MIN_CELL_M)
    vert = max(climb * t + separation.vertical_m, 2 * separation.vertical_m, _MIN_CELL_ALT_M)
    return np.array([h, h, h, vert])


def candidate_pairs(
    p: Floats, v: Floats, traffic: Traffic, separation: Separation
) -> tuple[Ints, Ints]:
    """Row pairs ``a < b`` whose swept boxes meet, each once."""
    n = len(traffic)
    if n < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty
    lo, hi = swept_boxes(p, v, traffic, separation)
    size = _cell_sizes(traffic, separation)
    lo_c = np.floor(lo / size).astype(np.int64)
    hi_c = np.floor(hi / size).astype(np.int64)
    span = hi_c - lo_c + 1
    count = np.prod(span, axis=1)
    large = np.flatnonzero(count > MAX_CELLS_PER_BOX)
    count[large] = 0
    extra = _against_all(large, lo, hi, traffic.party)
    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    local = np.arange(owner.shape[0], dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    cells = np.empty((owner.shape[0], 4), np.int64)
    for axis in (3, 2, 1, 0):
        width = span[owner, axis]
        cells[:, axis] = lo_c[owner, axis] + local % width
        local //= width
    if owner.shape[0] == 0:
        return extra
    base = cells.min(axis=0)
    extent = cells.max(axis=0) - base + 1
    key = np.zeros(owner.shape[0], np.int64)
    for axis in range(4):
        key = key * extent[axis] + (cells[:, axis] - base[axis])
    order = np.argsort(key, kind="stable")
    key, owner, cells = key[order], owner[order], cells[order]

    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], key.shape[0]]
    group_end = np.repeat(ends, ends - starts)
    position = np.arange(key.shape[0], dtype=np.int64)
    partners = group_end - position - 1
    first = np.repeat(position, partners)
    second = np.repeat(position + 1 - (np.cumsum(partners) - partners), partners) + np.arange(
        first.shape[0], dtype=np.int64
    )
    i, j = owner[first], owner[second]
    # Keep a pair only in the lowest cell both boxes cover, and only if the boxes meet.
    lowest = np.all(cells[first] == np.maximum(lo_c[i], lo_c[j]), axis=1)
    i, j = i[lowest], j[lowest]
    other = traffic.party[i] != traffic.party[j]
    i, j = i[other], j[other]
    meet = np.all(np.maximum(lo[i], lo[j]) <= np.minimum(hi[i], hi[j]), axis=1)
    i, j = i[meet], j[meet]
    a = np.concatenate([np.minimum(i, j), extra[0]])
    b = np.concatenate([np.maximum(i, j), extra[1]])
    return a, b


def _against_all(large: Ints, lo: Floats, hi: Floats, party: Ints) -> tuple[Ints, Ints]:
    """Pairs of each large box with every box it meets (of another party), each pair once."""
    found_a: list[Ints] = []
    found_b: list[Ints] = []
    is_large = np.zeros(lo.shape[0], bool)
    is_large[large] = True
    for i in large.tolist():
        meet = np.all((lo <= hi[i]) & (hi >= lo[i]), axis=1) & (party != party[i])
        # A pair of two large boxes is produced by the lower row only.
        meet &= ~is_large | (np.arange(lo.shape[0]) > i)
        j = np.flatnonzero(meet).astype(np.int64)
        found_a.append(np.minimum(i, j))
        found_b.append(np.maximum(i, j))
    if not found_a:
        empty = np.zeros(0, np.int64)
        return empty, empty
    return np.concatenate(found_a), np.concatenate(found_b)
