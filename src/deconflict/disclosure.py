"""Need-to-know: what a caller may see and change. Pure functions of the caller and the data.

- A party sees all of its own declarations; coordination measures are visible to all parties.
- A protected object is visible to the parties it was released to, and to relay principals.
- In a conflict each side sees its own declaration, the other side's party and kind and the
  overlap, never the rest of the other declaration. A conflict with a protected object that was
  not released to a party is not shown to that party; it goes to the object's owner and the relay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deconflict.conflicts import Conflict, Side
from deconflict.declarations import Declaration, Kind
from deconflict.volumes import format_time

__all__ = [
    "WRITER_ROLES",
    "Role",
    "Viewer",
    "can_amend",
    "can_see",
    "conflict_recipients",
    "conflict_view",
    "viewer_side",
]


class Role(StrEnum):
    DUTY_OFFICER = "duty_officer"
    VIEWER = "viewer"
    PARTY_ADMIN = "party_admin"
    CHANNEL_ADMIN = "channel_admin"
    RELAY = "relay"


WRITER_ROLES = frozenset({Role.DUTY_OFFICER, Role.PARTY_ADMIN, Role.RELAY})
"""Roles that may declare and amend their own party's declarations."""

RELAY_FIELDS = frozenset({"released_to", "verification"})
"""What a relay may change on another party's protected object."""


@dataclass(frozen=True, slots=True)
class Viewer:
    party: str
    role: Role

    @property
    def relay(self) -> bool:
        return self.role is Role.RELAY


def can_see(viewer: Viewer, decl: Declaration) -> bool:
    if decl.party == viewer.party or decl.kind is Kind.COORDINATION_MEASURE:
        return True
    return decl.is_protected and (viewer.relay or viewer.party in decl.released_to)


def can_amend(viewer: Viewer, decl: Declaration, fields: set[str]) -> bool:
    """Whether ``viewer`` may change ``fields`` of ``decl`` (or cancel it, with ``{"state"}``)."""
    if viewer.role not in WRITER_ROLES:
        return False
    if decl.party == viewer.party:
        return True
    return viewer.relay and decl.is_protected and fields <= RELAY_FIELDS


def viewer_side(viewer: Viewer, conflict: Conflict) -> Side | None:
    """The side of ``conflict`` that ``viewer`` sees it from, or ``None`` if hidden."""
    for side in (conflict.a, conflict.b):
        if side.party == viewer.party and side.sees:
            return side
    if viewer.relay and conflict.involves_protected:
        return conflict.a if conflict.a.protected else conflict.b
    return None


def conflict_view(viewer: Viewer, conflict: Conflict) -> dict[str, Any] | None:
    side = viewer_side(viewer, conflict)
    if side is None:
        return None
    other = conflict.other_side(side)
    return {
        "id": conflict.id,
        "kind": str(conflict.kind),
        "severity": str(conflict.severity),
        "state": str(conflict.state),
        "version": conflict.version,
        "declaration_id": side.declaration_id,
        "party": side.party,
        "other_party": other.party,
        "other_kind": str(other.kind),
        "overlap": conflict.overlap,
        "overlaps": list(conflict.overlaps),
        "detected_at": format_time(conflict.detected_at),
        "updated_at": format_time(conflict.updated_at),
    }


def conflict_recipients(
    conflict: Conflict, relay_parties: Iterable[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Each party told of ``conflict``, with the view it is shown: the sides that see it and,
    for a conflict with a protected object, the parties of the relay."""
    told: dict[str, dict[str, Any]] = {}
    viewers = [Viewer(s.party, Role.DUTY_OFFICER) for s in (conflict.a, conflict.b) if s.sees]
    if conflict.involves_protected:
        viewers += [Viewer(party, Role.RELAY) for party in relay_parties]
    for viewer in viewers:
        view = conflict_view(viewer, conflict)
        if view is not None:
            told.setdefault(viewer.party, view)
    return list(told.items())
