"""Conflict records: a detected finding as stored, and its lifecycle (open → resolved).

A conflict joins two declarations (``a_id < b_id``). It is re-evaluated whenever either side is
amended, ended or cancelled: if they still conflict its overlap and version are updated, if not
it is resolved. Who may see each side is decided by :mod:`deconflict.disclosure` when the record
is written, from the declarations as they were then.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from deconflict.declarations import Declaration, Kind
from deconflict.detection import Finding
from deconflict.rules import ConflictKind, Severity

__all__ = ["Conflict", "ConflictState", "Side", "new_conflict", "refresh_conflict", "sides_of"]


class ConflictState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Side:
    declaration_id: str
    party: str
    kind: Kind
    protected: bool
    sees: bool
    """Whether this side's party is told of the conflict (not when the other side is a
    protected object that was not released to it)."""


@dataclass(frozen=True, slots=True)
class Conflict:
    id: str
    kind: ConflictKind
    severity: Severity
    state: ConflictState
    version: int
    a: Side
    b: Side
    overlap: dict[str, Any]
    overlaps: tuple[dict[str, Any], ...]
    detected_at: datetime
    updated_at: datetime

    @property
    def involves_protected(self) -> bool:
        return self.a.protected or self.b.protected

    def side_of(self, declaration_id: str) -> Side:
        return self.a if self.a.declaration_id == declaration_id else self.b

    def other_side(self, side: Side) -> Side:
        return self.b if side is self.a else self.a


def _sees(own: Declaration, other: Declaration) -> bool:
    if own.is_protected:
        return True
    return not other.is_protected or own.party in other.released_to


def sides_of(a: Declaration, b: Declaration) -> tuple[Side, Side]:
    return (
        Side(a.id, a.party, a.kind, a.is_protected, _sees(a, b)),
        Side(b.id, b.party, b.kind, b.is_protected, _sees(b, a)),
    )


def new_conflict(finding: Finding, *, id: str, now: datetime) -> Conflict:
    a, b = sides_of(finding.a, finding.b)
    return Conflict(
        id=id,
        kind=finding.kind,
        severity=finding.severity,
        state=ConflictState.OPEN,
        version=1,
        a=a,
        b=b,
        overlap=finding.overlap.to_json(),
        overlaps=tuple(o.to_json() for o in finding.overlaps),
        detected_at=now,
        updated_at=now,
    )


def refresh_conflict(current: Conflict, finding: Finding | None, *, now: datetime) -> Conflict:
    """The conflict after one of its declarations changed; unchanged if nothing moved."""
    if finding is None:
        if current.state is ConflictState.RESOLVED:
            return current
        return dataclasses.replace(
            current, state=ConflictState.RESOLVED, version=current.version + 1, updated_at=now
        )
    a, b = sides_of(finding.a, finding.b)
    fresh = dataclasses.replace(
        current,
        kind=finding.kind,
        severity=finding.severity,
        state=ConflictState.OPEN,
        a=a,
        b=b,
        overlap=finding.overlap.to_json(),
        overlaps=tuple(o.to_json() for o in finding.overlaps),
    )
    if fresh == current:
        return current
    return dataclasses.replace(fresh, version=current.version + 1, updated_at=now)
