"""The conflict rules table: which kinds of declaration conflict, how, how badly, and with what
separation. Defaults follow PRODUCT.md; a channel may change buffers and severities.

Separations are *between* two volumes: an air operation needs 5 NM and 1,000 ft from another
party's air operation, so the two conflict when their footprints come within 5 NM horizontally
*and* their altitude bands within 1,000 ft. Growth is per kind: a protected site is protected
500 m beyond its declared footprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from deconflict.declarations import Kind
from deconflict.units import FT_M, NM_M

__all__ = [
    "DEFAULT_AIR_SEPARATION_FT",
    "DEFAULT_AIR_SEPARATION_NM",
    "DEFAULT_PROTECTED_SITE_RADIUS_M",
    "OPERATION_KINDS",
    "ConflictKind",
    "Rule",
    "RuleSet",
    "Severity",
    "default_rules",
]

DEFAULT_AIR_SEPARATION_NM = 5.0
DEFAULT_AIR_SEPARATION_FT = 1_000.0
DEFAULT_PROTECTED_SITE_RADIUS_M = 500.0

OPERATION_KINDS = frozenset(
    {Kind.AIR_OPERATION, Kind.GROUND_OPERATION, Kind.STRIKE, Kind.LAUNCH_NOTICE}
)


class ConflictKind(StrEnum):
    PROTECTED_OBJECT_AT_RISK = "protected_object_at_risk"
    FRATRICIDE_RISK = "fratricide_risk"
    LAUNCH_HAZARD = "launch_hazard"
    AIRSPACE_CONFLICT = "airspace_conflict"
    AIR_DEFENSE_EXPOSURE = "air_defense_exposure"
    GROUND_CLASH_RISK = "ground_clash_risk"
    AREA_ENTRY = "area_entry"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Rule:
    """``first`` against ``second`` (either way round) makes a conflict of ``kind``."""

    first: Kind
    second: Kind
    kind: ConflictKind
    severity: Severity
    horizontal_m: float = 0.0
    vertical_m: float = 0.0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    growth_m: Mapping[Kind, float] = field(default_factory=dict)
    _index: dict[frozenset[Kind], Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[frozenset[Kind], Rule] = {}
        for rule in self.rules:
            key = frozenset({rule.first, rule.second})
            if key in index:
                raise ValueError(f"two rules for {sorted(key)}")
            index[key] = rule
        object.__setattr__(self, "_index", index)

    def lookup(self, a: Kind, b: Kind) -> Rule | None:
        return self._index.get(frozenset({a, b}))

    def growth(self, kind: Kind) -> float:
        return self.growth_m.get(kind, 0.0)

    def reach_m(self, kind: Kind) -> float:
        """How far beyond its own buffered footprint a declaration of ``kind`` can conflict
        with anything: used to size index queries, never to decide."""
        partners = [r for r in self.rules if kind in (r.first, r.second)]
        if not partners:
            return 0.0
        return self.growth(kind) + max(
            r.horizontal_m + self.growth(r.second if r.first is kind else r.first) for r in partners
        )

    def vertical_reach_m(self, kind: Kind) -> float:
        return max((r.vertical_m for r in self.rules if kind in (r.first, r.second)), default=0.0)


def default_rules(
    *,
    air_separation_nm: float = DEFAULT_AIR_SEPARATION_NM,
    air_separation_ft: float = DEFAULT_AIR_SEPARATION_FT,
    protected_site_radius_m: float = DEFAULT_PROTECTED_SITE_RADIUS_M,
) -> RuleSet:
    """The rules table of PRODUCT.md with the channel's separations."""
    c, h, m = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
    rules = [
        Rule(Kind.STRIKE, Kind.PROTECTED_SITE, ConflictKind.PROTECTED_OBJECT_AT_RISK, c),
        Rule(Kind.STRIKE, Kind.HUMANITARIAN_MOVEMENT, ConflictKind.PROTECTED_OBJECT_AT_RISK, c),
        Rule(Kind.STRIKE, Kind.AIR_OPERATION, ConflictKind.FRATRICIDE_RISK, c),
        Rule(Kind.STRIKE, Kind.GROUND_OPERATION, ConflictKind.FRATRICIDE_RISK, c),
        Rule(Kind.LAUNCH_NOTICE, Kind.AIR_OPERATION, ConflictKind.LAUNCH_HAZARD, h),
        Rule(Kind.LAUNCH_NOTICE, Kind.GROUND_OPERATION, ConflictKind.LAUNCH_HAZARD, h),
        Rule(Kind.LAUNCH_NOTICE, Kind.STRIKE, ConflictKind.LAUNCH_HAZARD, h),
        Rule(Kind.LAUNCH_NOTICE, Kind.LAUNCH_NOTICE, ConflictKind.LAUNCH_HAZARD, h),
        Rule(Kind.LAUNCH_NOTICE, Kind.PROTECTED_SITE, ConflictKind.LAUNCH_HAZARD, c),
        Rule(Kind.LAUNCH_NOTICE, Kind.HUMANITARIAN_MOVEMENT, ConflictKind.LAUNCH_HAZARD, c),
        Rule(
            Kind.AIR_OPERATION,
            Kind.AIR_OPERATION,
            ConflictKind.AIRSPACE_CONFLICT,
            h,
            horizontal_m=air_separation_nm * NM_M,
            vertical_m=air_separation_ft * FT_M,
        ),
        Rule(Kind.AIR_OPERATION, Kind.AIR_DEFENSE_ZONE, ConflictKind.AIR_DEFENSE_EXPOSURE, h),
        Rule(Kind.GROUND_OPERATION, Kind.GROUND_OPERATION, ConflictKind.GROUND_CLASH_RISK, h),
    ]
    rules += [
        Rule(op, Kind.COORDINATION_MEASURE, ConflictKind.AREA_ENTRY, m)
        for op in sorted(OPERATION_KINDS)
    ]
    return RuleSet(tuple(rules), {Kind.PROTECTED_SITE: protected_site_radius_m})
