"""Zone alerts: an aircraft predicted to enter another party's air-defence zone or strike
volume (``zone_entry``), and an aircraft still inside a volume of its own party whose declaration
is over (``conformance``).

The motion model is that of :mod:`deconflict.separation`. A track is in a volume when its ground
position is in the footprint grown by its buffer, its altitude in the band (widened by
:data:`~deconflict.units.REFERENCE_MISMATCH_MARGIN_M` when the references differ) and the moment
in the time window. Touching counts.

The first entry: look-ahead, time window and altitude band each allow one interval of time; in
their intersection the path is sampled at most :data:`PATH_STEP_M` apart, drawn as a line in an
azimuthal equidistant plane centred on the volume (on the point itself for a point footprint),
and intersected exactly with the footprint drawn in the same plane. There, lengths from the
centre are exact and others stretched by at most ``θ/sin θ`` (``θ``: distance from the centre
over the earth's least radius of curvature ``R``), and a geodesic departs from its chord ``c`` by
at most ``c²r/8R²`` (``r``: distance from the centre). The footprint is grown by its stretched
buffer, both chord departures and the distance tolerance, with arcs that circumscribe the true
ones: no entry is missed, and one is early by at most the growth beyond the buffer (about 1 m for
a polygon or a point; ``θ²/6`` of the buffer more for a line or a buffered polygon, 0.05 % for
one 600 km across with a 20 km buffer).

Candidates come from an STRtree of the volumes' lon/lat boxes (:func:`~deconflict.geodesy.
lonlat_box`), queried with the midpoints of :data:`PRUNE_CHUNK_M` pieces of each path. Pure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Proj
from shapely.geometry.base import BaseGeometry

from deconflict.declarations import DETECTABLE_STATES, Declaration, Kind
from deconflict.disclosure import Role, Viewer, can_see
from deconflict.geodesy import DENSIFY_SPACING_M, GEOD, lonlat_box, planar, projection_at
from deconflict.separation import REFERENCE_CODES
from deconflict.track_alerts import Alert, AlertKind, altitude_band, place, whole_second
from deconflict.tracks import Picture
from deconflict.units import (
    ALTITUDE_TOLERANCE_M,
    DISTANCE_TOLERANCE_M,
    REFERENCE_MISMATCH_MARGIN_M,
)
from deconflict.volumes import Volume4D, format_time

__all__ = [
    "CONFORMANCE_HORIZON",
    "FLIGHT_KINDS",
    "PATH_STEP_M",
    "PRUNE_CHUNK_M",
    "ZONE_KINDS",
    "zone_alerts",
]

ZONE_KINDS = frozenset({Kind.AIR_DEFENSE_ZONE, Kind.STRIKE})
"""Another party's declarations of these kinds are zones an aircraft must not enter."""
FLIGHT_KINDS = frozenset({Kind.AIR_OPERATION, Kind.STRIKE})
"""A party's own declarations of these kinds say where its aircraft fly (conformance)."""
CONFORMANCE_HORIZON = timedelta(hours=1)
"""Volumes over for longer than this no longer flag a track (a months-old operation would flag
every aircraft of its party)."""
PATH_STEP_M = 10_000.0
"""Longest chord of a predicted path: it departs from the geodesic by under half a metre even
1,500 km from the plane's centre (and is accounted for in the growth)."""
PRUNE_CHUNK_M = 20_000.0
"""Paths are pruned in pieces this long: each lies within half of it from its midpoint."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_EARTH_RADIUS_MIN_M = 6_335_000.0  # least radius of curvature of WGS84 (meridian, equator)
_ARC_ERROR_M = 1.0  # circumscribed arcs overshoot the true circle by at most this
_EXACT_GRID_DEG = 1e-9  # a projection centred on the point itself (within 0.1 mm)


@dataclass(frozen=True, slots=True)
class _Zone:
    """A volume drawn in its own plane, grown so that it contains the true volume."""

    decl: Declaration
    volume: Volume4D
    proj: Proj
    region: BaseGeometry
    reach_m: float
    """Every point of ``region`` lies within this geodesic distance of the footprint's core."""
    over_at: datetime


def _zone(decl: Declaration, volume: Volume4D, over_at: datetime) -> _Zone:
    shape, buffer_m = volume.footprint.shape, volume.footprint.buffer_m
    if shape.kind == "point":
        lon, lat = shape.parts[0][0][0]
        proj = projection_at(float(lon), float(lat), grid_deg=_EXACT_GRID_DEG)
    else:
        proj = projection_at(*shape.reference)
    core = planar(shape, proj)
    # Distances from the centre of the plane are exact: this is how far the volume reaches.
    rho = float(np.max(np.hypot(*shapely.get_coordinates(core).T))) + buffer_m + PATH_STEP_M
    theta = rho / _EARTH_RADIUS_MIN_M
    stretch = 1.0 if shape.kind == "point" else theta / math.sin(theta)
    bend = (PATH_STEP_M**2 + DENSIFY_SPACING_M**2) * rho / (8 * _EARTH_RADIUS_MIN_M**2)
    grow = stretch * buffer_m + bend + DISTANCE_TOLERANCE_M
    quad = max(4, math.ceil(math.pi / (4 * math.sqrt(2 * _ARC_ERROR_M / grow))))
    reach = grow / math.cos(math.pi / (4 * quad))
    region = core.buffer(reach, quad_segs=quad)
    shapely.prepare(region)
    return _Zone(decl, volume, proj, region, reach, over_at)


def _candidates(
    zones: Sequence[_Zone], lon: Floats, lat: Floats, radius_m: float
) -> tuple[Ints, Ints]:
    """(point, zone) pairs where the point may lie within ``radius_m`` of the zone."""
    boxes = [
        (j, *box)
        for j, z in enumerate(zones)
        for box in lonlat_box(z.volume.footprint.shape, z.reach_m + radius_m)
    ]
    if not boxes or lon.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    b = np.array(boxes, np.float64)
    tree = shapely.STRtree(shapely.box(b[:, 1], b[:, 2], b[:, 3], b[:, 4]))
    found = tree.query(shapely.points(lon, lat), predicate="intersects")
    return found[0].astype(np.int64), b[found[1], 0].astype(np.int64)


def _planar(zones: Sequence[_Zone], zone: Ints, lon: Floats, lat: Floats) -> Floats:
    """Each position in the plane of its zone (one projection call per zone)."""
    xy = np.empty((lon.shape[0], 2))
    if zone.shape[0] == 0:
        return xy
    order = np.argsort(zone, kind="stable")
    bounds = np.flatnonzero(np.r_[True, zone[order][1:] != zone[order][:-1], True])
    for lo, hi in itertools.pairwise(bounds.tolist()):
        rows = order[lo:hi]
        x, y = zones[int(zone[rows[0]])].proj(lon[rows], lat[rows])
        xy[rows, 0], xy[rows, 1] = x, y
    return xy


def _altitude_limits(
    zones: Sequence[_Zone], zone: Ints, track: Ints, picture: Picture
) -> tuple[Floats, Floats]:
    """Each pair's band in metres, widened by the tolerance and, where the track's reference
    differs from the band's, by the mismatch margin."""
    lower = np.array([z.volume.altitude.lower_m for z in zones])[zone]
    upper = np.array([z.volume.altitude.upper_m for z in zones])[zone]
    band_ref = np.array([REFERENCE_CODES[z.volume.altitude.reference] for z in zones])[zone]
    mixed = band_ref != picture.traffic.references()[track]
    margin = ALTITUDE_TOLERANCE_M + np.where(mixed, REFERENCE_MISMATCH_MARGIN_M, 0.0)
    return lower - margin, upper + margin


def _party_codes(picture: Picture, zones: Sequence[_Zone]) -> Ints:
    """Each zone's party as a code of the picture (-1: a party with no track)."""
    codes = {p: i for i, p in enumerate(picture.parties)}
    return np.array([codes.get(z.decl.party, -1) for z in zones], np.int64)


def _intervals(
    picture: Picture, zones: Sequence[_Zone], lookahead_s: float
) -> tuple[Ints, Ints, Floats, Floats]:
    """(track, zone) pairs of different parties with the one interval of time (seconds after
    the picture) in which the look-ahead, the pieces of the path near the zone, the time window
    and the altitude band all allow an entry."""
    traffic = picture.traffic
    reach = traffic.ground_speed_mps * lookahead_s
    pieces = np.maximum(1, np.ceil(reach / PRUNE_CHUNK_M)).astype(np.int64)
    owner = np.repeat(np.arange(len(traffic), dtype=np.int64), pieces)
    piece = np.arange(owner.shape[0]) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    mid_lon, mid_lat, _ = GEOD.fwd(
        traffic.lon_deg[owner],
        traffic.lat_deg[owner],
        traffic.track_deg[owner],
        (piece + 0.5) * (reach / pieces)[owner],
    )
    point, zone = _candidates(zones, np.asarray(mid_lon), np.asarray(mid_lat), PRUNE_CHUNK_M / 2)
    other = traffic.party[owner[point]] != _party_codes(picture, zones)[zone]
    key, row = np.unique(owner[point][other] * len(zones) + zone[other], return_inverse=True)
    first, last = np.full(key.shape[0], np.iinfo(np.int64).max), np.full(key.shape[0], -1)
    np.minimum.at(first, row, piece[point][other])
    np.maximum.at(last, row, piece[point][other])
    track, zone = key // len(zones), key % len(zones)
    start = np.array([(z.volume.time.start - picture.at).total_seconds() for z in zones])
    end = np.array([(z.volume.time.end - picture.at).total_seconds() for z in zones])
    lower, upper = _altitude_limits(zones, zone, track, picture)
    alt, rate = traffic.altitude_m[track], traffic.vertical_rate_mps[track]
    climbing = rate != 0.0
    level_in = (lower <= alt) & (alt <= upper)
    t_low = (lower - alt) / np.where(climbing, rate, 1.0)
    t_up = (upper - alt) / np.where(climbing, rate, 1.0)
    alt0 = np.where(climbing, np.minimum(t_low, t_up), np.where(level_in, -np.inf, np.inf))
    alt1 = np.where(climbing, np.maximum(t_low, t_up), np.where(level_in, np.inf, -np.inf))
    dt = lookahead_s / pieces[track]
    t0 = np.maximum.reduce([np.zeros_like(alt), first * dt, start[zone], alt0])
    t1 = np.minimum.reduce([np.full_like(alt, lookahead_s), (last + 1) * dt, end[zone], alt1])
    keep = t0 <= t1
    return track[keep], zone[keep], t0[keep], t1[keep]


def _first_entries(
    picture: Picture, zones: Sequence[_Zone], pairs: tuple[Ints, Ints, Floats, Floats]
) -> Floats:
    """For each pair, the first moment in ``[t0, t1]`` its path is in the zone (``inf``: none).

    Each path is sampled at most :data:`PATH_STEP_M` apart and drawn as a chord line in its
    zone's plane; a path that does not move is its first sample."""
    track, zone, t0, t1 = pairs
    traffic = picture.traffic
    speed = traffic.ground_speed_mps[track]
    samples = np.where(
        speed * (t1 - t0) > 0, np.ceil(speed * (t1 - t0) / PATH_STEP_M) + 1, 1
    ).astype(np.int64)
    pair = np.repeat(np.arange(track.shape[0], dtype=np.int64), samples)
    first = np.cumsum(samples) - samples
    index = np.arange(pair.shape[0]) - first[pair]
    times = t0[pair] + (t1 - t0)[pair] * index / np.maximum(samples[pair] - 1, 1)
    row = track[pair]
    lon, lat, _ = GEOD.fwd(
        traffic.lon_deg[row], traffic.lat_deg[row], traffic.track_deg[row], speed[pair] * times
    )
    xy = _planar(zones, zone[pair], np.asarray(lon), np.asarray(lat))
    regions = np.array([z.region for z in zones], dtype=object)[zone]
    entry = np.where(shapely.intersects_xy(regions, xy[first, 0], xy[first, 1]), t0, np.inf)
    moving = np.flatnonzero((entry == np.inf) & (samples > 1))
    if moving.shape[0] == 0:
        return entry
    rows = np.isin(pair, moving)
    lines = np.full(track.shape[0], None, dtype=object)
    shapely.linestrings(xy[rows], indices=pair[rows], out=lines)
    hit = moving[shapely.intersects(lines[moving], regions[moving])]
    meet = shapely.intersection(lines[hit], regions[hit])
    coords, which = shapely.get_coordinates(meet, return_index=True)
    along = np.full(hit.shape[0], np.inf)
    np.minimum.at(
        along, which, shapely.line_locate_point(lines[hit][which], shapely.points(coords))
    )
    # From length along the chord line back to time, within the chord where the entry lies.
    walked = np.cumsum(np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)])
    target = walked[first[hit]] + along
    seg = np.clip(
        np.searchsorted(walked, target, side="right") - 1,
        first[hit],
        first[hit] + samples[hit] - 2,
    )
    chord = walked[seg + 1] - walked[seg]
    frac = np.clip((target - walked[seg]) / np.where(chord > 0, chord, np.inf), 0.0, 1.0)
    entry[hit] = times[seg] + frac * (times[seg + 1] - times[seg])
    return entry


def _entry_alerts(
    picture: Picture, declarations: Iterable[Declaration], lookahead_s: float
) -> list[Alert]:
    horizon_end = picture.at + timedelta(seconds=lookahead_s)
    zones = [
        _zone(d, v, v.time.end)
        for d in declarations
        if d.kind in ZONE_KINDS and d.state in DETECTABLE_STATES
        for v in d.effective_volumes()
        if v.time.start <= horizon_end and picture.at <= v.time.end
    ]
    if not zones or len(picture.traffic) == 0:
        return []
    pairs = _intervals(picture, zones, lookahead_s)
    entry = _first_entries(picture, zones, pairs)
    first: dict[tuple[int, str], tuple[float, int]] = {}  # per track and declaration
    for i, j, t in zip(pairs[0].tolist(), pairs[1].tolist(), entry.tolist(), strict=True):
        if t < first.get((i, zones[j].decl.id), (math.inf, 0))[0]:
            first[(i, zones[j].decl.id)] = (t, j)
    if not first:
        return []
    keys = sorted(first)
    row = np.array([i for i, _ in keys], np.int64)
    t_s = np.array([first[k][0] for k in keys])
    tf = picture.traffic
    lon, lat, _ = GEOD.fwd(
        tf.lon_deg[row], tf.lat_deg[row], tf.track_deg[row], tf.ground_speed_mps[row] * t_s
    )
    alt = tf.altitude_m[row] + tf.vertical_rate_mps[row] * t_s
    alerts = []
    for k, (i, _) in enumerate(keys):
        tr, decl = picture.tracks[i], zones[first[keys[k]][1]].decl
        at = whole_second(picture.at + timedelta(seconds=float(t_s[k])))
        shared = {
            "entry_at": format_time(at),
            "place": place(float(lon[k]), float(lat[k])),
            "altitude_band": altitude_band(float(alt[k]), float(alt[k]), tr.reference),
        }
        own = {"own_track": tr.track_id, "other_party": decl.party, "other_kind": str(decl.kind)}
        if can_see(Viewer(tr.party, Role.DUTY_OFFICER), decl):
            own["declaration_id"] = decl.id
        views = {
            tr.party: {**own, **shared},
            decl.party: {"declaration_id": decl.id, "other_party": tr.party, **shared},
        }
        alerts.append(
            Alert(
                key=("zone_entry", tr.party, tr.track_id, decl.id),
                kind=AlertKind.ZONE_ENTRY,
                lost=bool(t_s[k] <= 0.0),
                closest_at=at,
                closest_distance_m=0.0,
                views=views,
            )
        )
    return alerts


def _over_at(decl: Declaration, volume: Volume4D) -> datetime:
    """When the volume stopped being part of its declaration's plan."""
    if decl.state in DETECTABLE_STATES:
        return volume.time.end
    return min(volume.time.end, decl.updated_at)  # ended or cancelled with this version


def _inside_now(picture: Picture, zones: Sequence[_Zone]) -> tuple[Ints, Ints]:
    """(track, zone) for every track of the zone's own party inside it at the picture's moment
    (its time window aside)."""
    traffic = picture.traffic
    track, zone = _candidates(zones, traffic.lon_deg, traffic.lat_deg, 0.0)
    own = traffic.party[track] == _party_codes(picture, zones)[zone]
    track, zone = track[own], zone[own]
    lower, upper = _altitude_limits(zones, zone, track, picture)
    level = (lower <= traffic.altitude_m[track]) & (traffic.altitude_m[track] <= upper)
    track, zone = track[level], zone[level]
    xy = _planar(zones, zone, traffic.lon_deg[track], traffic.lat_deg[track])
    regions = np.array([z.region for z in zones], dtype=object)[zone]
    inside = shapely.intersects_xy(regions, xy[:, 0], xy[:, 1])
    return track[inside], zone[inside]


def _conformance_alerts(
    picture: Picture, declarations: Sequence[Declaration], horizon: timedelta
) -> list[Alert]:
    at, since = picture.at, picture.at - horizon
    own = [d for d in declarations if d.kind in FLIGHT_KINDS]
    over = [
        _zone(d, v, o)
        for d in own
        for v in d.effective_volumes()
        if since <= (o := _over_at(d, v)) < at and v.time.start <= o
    ]
    if not over or len(picture.traffic) == 0:
        return []
    track, zone = _inside_now(picture, over)
    parties = {over[j].decl.party for j in zone.tolist()}
    current = [
        _zone(d, v, v.time.end)
        for d in own
        if d.party in parties and d.state in DETECTABLE_STATES
        for v in d.effective_volumes()
        if v.time.start <= at <= v.time.end
    ]
    covered = set(_inside_now(picture, current)[0].tolist()) if current else set()
    latest: dict[tuple[int, str], _Zone] = {}  # per track and declaration
    for i, j in zip(track.tolist(), zone.tolist(), strict=True):
        z = over[j]
        if i not in covered and latest.get((i, z.decl.id), z).over_at <= z.over_at:
            latest[(i, z.decl.id)] = z
    traffic = picture.traffic
    alerts = []
    for (i, _), z in sorted(latest.items()):
        tr = picture.tracks[i]
        ended = whole_second(z.over_at)
        view = {
            "own_track": tr.track_id,
            "declaration_id": z.decl.id,
            "ended_at": format_time(ended),
            "place": place(float(traffic.lon_deg[i]), float(traffic.lat_deg[i])),
            "altitude_band": altitude_band(
                float(traffic.altitude_m[i]), float(traffic.altitude_m[i]), tr.reference
            ),
        }
        alerts.append(
            Alert(
                key=("conformance", tr.party, tr.track_id, z.decl.id),
                kind=AlertKind.CONFORMANCE,
                lost=True,
                # When the plan ended: stable, so that a lasting alert is not told again.
                closest_at=ended,
                closest_distance_m=0.0,
                views={tr.party: view},
            )
        )
    return alerts


def zone_alerts(
    picture: Picture,
    declarations: Sequence[Declaration],
    lookahead_s: float,
    *,
    conformance_horizon: timedelta = CONFORMANCE_HORIZON,
) -> list[Alert]:
    """The zone-entry and conformance alerts of one cycle.

    Zone entry: a track whose predicted path within ``lookahead_s`` enters a volume of another
    party's planned or active air-defence zone or strike, at a moment in the volume's time
    window and at an altitude in its band; the first such moment is reported (0 if inside now).
    Conformance: a track inside, now, a volume of its own party's air operation or strike that
    is over (its time window ended, or the declaration ended or was cancelled) within
    ``conformance_horizon``, and inside no volume of its own planned or active ones.
    """
    if not (lookahead_s >= 0.0 and math.isfinite(lookahead_s)):
        raise ValueError("lookahead_s is a finite number of seconds, 0 or more")
    return _entry_alerts(picture, declarations, lookahead_s) + _conformance_alerts(
        picture, declarations, conformance_horizon
    )
