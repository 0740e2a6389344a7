"""Detection agrees with a brute-force oracle on random clusters of declarations.

Random declarations of every kind, three parties, small footprints (buffered points, short
lines, small boxes) crowded into a region about a degree across, so that many pairs come within
reach of each other; random altitude bands in feet and metres, AMSL and W84, on grids that make
touching bands common; random time windows on a half-hour grid that often overlap or touch;
some cancelled or ended, some protected objects expiring. The cluster sits at mid latitude, at
70° and 80° N, near the pole, or on the antimeridian.

The same declarations go through ``deconflict.offline.detect_all`` and through a real channel
on SQLite (R*Tree candidate search, then state changes that resolve conflicts); the open
conflicts of both must match the oracle of ``tests/oracle.py`` on every pair that the oracle
decides. Pairs that sampling cannot decide (within a few metres of the required distance even
after the oracle's fine pass) are not asserted on, only counted.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

import oracle
from deconflict.declarations import State, parse_new
from deconflict.detection import Finding
from deconflict.disclosure import Role
from deconflict.errors import InvalidInput
from deconflict.footprints import parse_footprint
from deconflict.offline import detect_all
from deconflict.rules import default_rules
from deconflict.service import Channel
from deconflict.store.sqlite import SqliteStore
from factories import throwaway_ledger

GEOD = Geod(ellps="WGS84")
RULES = default_rules()
PARTIES = ("coalition", "russia", "medics")
KINDS = (
    "air_operation",
    "ground_operation",
    "strike",
    "air_defense_zone",
    "launch_notice",
    "protected_site",
    "humanitarian_movement",
    "coordination_measure",
)
DECLARATIONS_PER_EXAMPLE = 12
EXAMPLES = 100
T0 = datetime(2017, 4, 6, 18, 0, tzinfo=UTC)
SLOT = timedelta(minutes=30)
NOW = datetime(2017, 4, 6, 12, 0, tzinfo=UTC)

Pair = tuple[str, str]
Outcome = tuple[str, str]  # conflict kind, severity


@dataclass(frozen=True)
class Spec:
    id: str
    party: str
    body: dict[str, Any]
    state: str


def _time(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _wrap(lon: float) -> float:
    return ((lon + 180.0) % 360.0) - 180.0


def _move(lon: float, lat: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
    return _wrap(float(lon2)), float(lat2)


def _valid(geometry: dict[str, Any], buffer_m: float) -> bool:
    try:
        parse_footprint(geometry, buffer_m)
    except InvalidInput:
        return False
    return True


@dataclass(frozen=True)
class _Placed:
    """A volume generated so far, for placing later ones near it."""

    kind: str
    anchor: tuple[float, float]
    volume: dict[str, Any]


def _threshold(kind_a: str, buffer_a: float, kind_b: str, buffer_b: float) -> float:
    """Roughly the distance between anchors at which two volumes start to conflict: new volumes
    are often placed about there, where mistakes would show."""
    separation = oracle.AIR_SEPARATION_M if kind_a == kind_b == "air_operation" else 0.0
    growth = oracle.GROWTH_M.get(kind_a, 0.0) + oracle.GROWTH_M.get(kind_b, 0.0)
    return buffer_a + buffer_b + separation + growth


def _geometry(draw: st.DrawFn, shape: str, anchor: tuple[float, float]) -> dict[str, Any]:
    if shape == "line":
        positions = [anchor]
        for _ in range(draw(st.integers(1, 2))):
            positions.append(
                _move(*positions[-1], draw(st.floats(0.0, 360.0)), draw(st.floats(500, 8_000)))
            )
        return {"type": "LineString", "coordinates": [list(p) for p in positions]}
    if shape == "box":
        half_w, half_h = draw(st.floats(200.0, 5_000.0)), draw(st.floats(200.0, 5_000.0))
        lon, lat = anchor
        dlat = half_h / 111_000.0
        dlon = half_w / (111_320.0 * math.cos(math.radians(lat)))
        ring = [
            [_wrap(lon - dlon), lat - dlat],
            [_wrap(lon + dlon), lat - dlat],
            [_wrap(lon + dlon), lat + dlat],
            [_wrap(lon - dlon), lat + dlat],
            [_wrap(lon - dlon), lat - dlat],
        ]
        return {"type": "Polygon", "coordinates": [ring]}
    return {"type": "Point", "coordinates": list(anchor)}


_GAPS_FT = (0, 0, 500, 1_000, 1_000, 1_001, 1_500)
_GAPS_M = (0.0, 1.0, 110.0, 111.0, 150.0, 304.8, 305.8, 414.8, 415.8, 450.0)


def _band(draw: st.DrawFn, near: _Placed | None) -> dict[str, Any]:
    reference = draw(st.sampled_from(["AMSL", "W84"]))
    if near is not None and draw(st.booleans()):
        # Stacked on a neighbour's band at a gap where the documented boundaries lie: touching,
        # 1,000 ft (304.8 m), 110 m between references, and each of them plus a bit.
        units = near.volume["altitude"]["units"]
        gaps = _GAPS_FT if units == "ft" else _GAPS_M
        lower = round(near.volume["altitude"]["upper"] + draw(st.sampled_from(gaps)), 6)
        return {
            "lower": lower,
            "upper": round(lower + (500 if units == "ft" else 150) * draw(st.integers(1, 20)), 6),
            "units": units,
            "reference": reference,
        }
    units = draw(st.sampled_from(["ft", "m"]))
    step = 500 if units == "ft" else 150  # 500 ft and 150 m grids: bands often touch exactly
    lower = step * draw(st.integers(0, 16))
    upper = lower + step * draw(st.integers(1, 30))
    return {"lower": lower, "upper": upper, "units": units, "reference": reference}


def _window(draw: st.DrawFn, near: _Placed | None) -> dict[str, str]:
    how = draw(st.sampled_from(["touching", "same", "random"])) if near else "random"
    if near is not None and how == "same":
        return dict(near.volume["time"])
    if near is not None and how == "touching":
        start = datetime.fromisoformat(near.volume["time"]["end"])
    else:
        start = T0 + SLOT * draw(st.integers(0, 8))
    end = start + SLOT * draw(st.integers(1, 8))
    return {"start": _time(start), "end": _time(end)}


@st.composite
def volumes(
    draw: st.DrawFn,
    kind: str,
    centre: tuple[float, float],
    spread_m: float,
    near: _Placed | None,
) -> _Placed:
    """A volume anywhere in the cluster, or placed about where it would start to conflict
    with ``near``."""
    shape = draw(st.sampled_from(["point", "point", "line", "box"]))
    buffer_m = {
        "point": draw(st.floats(100.0, 20_000.0)),
        "line": draw(st.floats(100.0, 5_000.0)),
        "box": draw(st.sampled_from([0.0, 0.0, draw(st.floats(100.0, 5_000.0))])),
    }[shape]
    if near is None:
        distance = draw(st.floats(0.0, spread_m))
        anchor = _move(*centre, draw(st.floats(0.0, 360.0)), distance)
    else:
        reach = _threshold(kind, buffer_m, near.kind, near.volume["buffer_m"])
        if draw(st.booleans()):
            distance = reach * draw(st.floats(0.5, 1.2))
        else:
            distance = max(0.0, reach + draw(st.floats(-1_500.0, 1_500.0)))
        anchor = _move(*near.anchor, draw(st.floats(0.0, 360.0)), distance)
    geometry = _geometry(draw, shape, anchor)
    if not _valid(geometry, buffer_m):
        # Near the pole a box can be too wide to be a simple ring: use its centre instead.
        geometry = {"type": "Point", "coordinates": list(anchor)}
        buffer_m = max(buffer_m, 100.0)
    volume = {
        "geometry": geometry,
        "buffer_m": buffer_m,
        "altitude": _band(draw, near),
        "time": _window(draw, near),
    }
    return _Placed(kind, anchor, volume)


REGIONS = [
    # (latitude of the cluster centre, cluster radius in metres)
    (35.3, 60_000.0),
    (70.0, 60_000.0),
    (80.0, 60_000.0),
    (89.3, 40_000.0),
]


@dataclass(frozen=True)
class _Drawn:
    kind: str
    party: str
    placed: tuple[_Placed, ...]


@st.composite
def scenarios(draw: st.DrawFn) -> list[Spec]:
    """Declarations in a cluster; most are drawn as a partner of an earlier one (a kind the
    rules join to it, another party, volumes placed near the threshold, windows and bands
    that touch or overlap) so that pairs which geometry must decide are common."""
    lat, spread_m = draw(st.sampled_from(REGIONS))
    lon = draw(st.one_of(st.just(180.0), st.just(-179.9), st.floats(-170.0, 170.0)))
    drawn: list[_Drawn] = []
    out = []
    for i in range(DECLARATIONS_PER_EXAMPLE):
        partner = draw(st.sampled_from(drawn)) if drawn and draw(st.integers(0, 3)) else None
        if partner is None:
            kind, party = draw(st.sampled_from(KINDS)), draw(st.sampled_from(PARTIES))
        else:
            joined = [k for k in KINDS if frozenset({k, partner.kind}) in oracle.RULES]
            kind = draw(st.sampled_from(joined))
            others = [p for p in PARTIES if p != partner.party]
            party = draw(st.sampled_from([*others, *others, *others, partner.party]))
        count = draw(st.sampled_from([1, 1, 1, 2]))
        mine = tuple(
            draw(
                volumes(
                    kind,
                    (lon, lat),
                    spread_m,
                    draw(st.sampled_from(partner.placed)) if partner else None,
                )
            )
            for _ in range(count)
        )
        drawn.append(_Drawn(kind, party, mine))
        body: dict[str, Any] = {
            "kind": kind,
            "title": f"{kind} {i}",
            "volumes": [p.volume for p in mine],
        }
        if kind in oracle.PROTECTED and draw(st.booleans()):
            body["expires_at"] = _time(T0 + SLOT * draw(st.integers(0, 12)))
        if kind == "coordination_measure" and draw(st.booleans()):
            body["controlling_party"] = draw(st.sampled_from(PARTIES))
        state = draw(st.sampled_from(["planned"] * 6 + ["active", "active", "cancelled", "ended"]))
        out.append(Spec(f"d{i:02d}", party, body, state))
    return out


# --- the two detectors under test ------------------------------------------------------------


def _outcomes(findings: Sequence[Finding]) -> dict[Pair, Outcome]:
    return {(f.a.id, f.b.id): (str(f.kind), str(f.severity)) for f in findings}


def offline_conflicts(scenario: Sequence[Spec]) -> dict[Pair, Outcome]:
    decls = []
    for s in scenario:
        decl = parse_new(s.body, id=s.id, party=s.party, now=NOW)
        decls.append(dataclasses.replace(decl, state=State(s.state)))
    return _outcomes(detect_all(decls, RULES))


class _Ids:
    """Channel ids: declarations get the scenario's ids, in the order they are declared."""

    def __init__(self, declaration_ids: Sequence[str]) -> None:
        self._declarations: Iterator[str] = iter(declaration_ids)
        self._n = itertools.count()

    def __call__(self, prefix: str) -> str:
        if prefix == "dcl":
            return next(self._declarations)
        return f"{prefix}_{next(self._n):05d}"


def channel_conflicts(scenario: Sequence[Spec]) -> dict[Pair, Outcome]:
    """Declare one by one on a SQLite channel, then end or cancel; read open conflicts back."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "deconflict.db")
        try:
            channel = Channel(
                store,
                RULES,
                throwaway_ledger(),
                clock=lambda: NOW,
                ids=_Ids([s.id for s in scenario]),
            )
            who = {}
            for party in PARTIES:
                channel.add_party(party, party.title())
                who[party] = channel.add_principal(party, party, Role.DUTY_OFFICER)[0]
            for s in scenario:
                body = s.body | ({"state": "active"} if s.state in ("active", "ended") else {})
                assert channel.declare(who[s.party], body).declaration.id == s.id
            for s in scenario:
                if s.state == "cancelled":
                    channel.cancel(who[s.party], s.id, 1)
                elif s.state == "ended":
                    channel.amend(who[s.party], s.id, 1, {"state": "ended"})
            found: dict[Pair, Outcome] = {}
            with store.read() as txn:
                for s in scenario:
                    for c in txn.conflicts_of(s.id):
                        pair = (c.a.declaration_id, c.b.declaration_id)
                        found[pair] = (str(c.kind), str(c.severity))
            return found
        finally:
            store.close()


# --- the property ----------------------------------------------------------------------------


def _disagreements(
    expected: dict[Pair, oracle.PairVerdict], found: dict[Pair, Outcome]
) -> list[str]:
    wrong = [
        f"{pair}: reported but the oracle knows no such pair" for pair in set(found) - set(expected)
    ]
    for pair, v in expected.items():
        got = found.get(pair)
        want = None if v.rule is None else (v.rule.kind, v.rule.severity)
        if v.verdict is oracle.Verdict.CONFLICT and got != want:
            wrong.append(f"{pair}: oracle says {want}, detector {got}")
        elif v.verdict is oracle.Verdict.CLEAR and got is not None:
            wrong.append(f"{pair}: oracle says clear, detector {got}")
        elif v.verdict is oracle.Verdict.UNSURE and got not in (None, want):
            wrong.append(f"{pair}: near the threshold, but detector says {got}, rule {want}")
    return wrong


def _dump(scenario: Sequence[Spec], wrong: Sequence[str]) -> str:
    """The declarations of the first disagreement, as JSON, to replay it by hand."""
    ids = set(re.findall(r"'(d\d\d)'", wrong[0]))
    return json.dumps([dataclasses.asdict(s) for s in scenario if s.id in ids])


def test_detection_agrees_with_brute_force_oracle() -> None:
    totals: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenarios())
    def check(scenario: list[Spec]) -> None:
        decls = [
            oracle.parse_declaration(s.body, id=s.id, party=s.party, state=s.state)
            for s in scenario
        ]
        expected = oracle.expected_conflicts(decls)
        for name, found in (
            ("detect_all", offline_conflicts(scenario)),
            ("sqlite channel", channel_conflicts(scenario)),
        ):
            wrong = _disagreements(expected, found)
            assert not wrong, f"{name} disagrees with the oracle:\n" + "\n".join(
                [*wrong, _dump(scenario, wrong)]
            )
        for v in expected.values():
            if v.measured:
                totals[v.verdict.value] += 1
        totals["examples"] += 1

    check()
    measured = totals["conflict"] + totals["clear"] + totals["unsure"]
    # The property means something only if geometry decided many pairs both ways.
    assert totals["examples"] >= EXAMPLES
    assert totals["conflict"] >= 150, totals
    assert totals["clear"] >= 150, totals
    assert totals["unsure"] <= 0.05 * measured, totals
