"""Incident reports: what happened, where and when, linked to declarations, sent to the parties
it names and to the relay; each named party has the right of reply, attached to the report.

A strike on a protected object reported here after the object was notified and acknowledged is
the figure humanitarian organisations asked for and never got.

Pure: ids, the clock and the checks against stored declarations come from outside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from deconflict.declarations import PARTY_ID
from deconflict.errors import FieldError, Forbidden, InvalidInput
from deconflict.footprints import parse_footprint
from deconflict.messages import parse_text
from deconflict.volumes import format_time, parse_time

__all__ = [
    "FUTURE_TOLERANCE",
    "MAX_LINKS",
    "Incident",
    "IncidentKind",
    "Reply",
    "add_reply",
    "incident_from_json",
    "parse_incident",
]

MAX_LINKS = 20
FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the service's clock an incident may be said to have happened (clock
skew), no more."""


class IncidentKind(StrEnum):
    UNSAFE_INTERCEPT = "unsafe_intercept"
    RADAR_LOCK_ON = "radar_lock_on"
    AIRSPACE_VIOLATION = "airspace_violation"
    STRIKE_ON_PROTECTED_OBJECT = "strike_on_protected_object"
    NEAR_MISS = "near_miss"
    GROUND_CONFRONTATION = "ground_confrontation"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Reply:
    party: str
    principal: str
    text: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "principal": self.principal,
            "text": self.text,
            "at": format_time(self.at),
        }


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    party: str
    """The reporting party."""
    kind: IncidentKind
    title: str
    description: str | None
    occurred_at: datetime
    place: dict[str, Any]
    """A footprint: GeoJSON geometry and buffer_m (the uncertainty of a point)."""
    declaration_ids: tuple[str, ...]
    parties: tuple[str, ...]
    """The parties it is sent to (and who may reply)."""
    reported_at: datetime
    reported_by: str
    version: int = 1
    replies: tuple[Reply, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "kind": str(self.kind),
            "title": self.title,
            "description": self.description,
            "occurred_at": format_time(self.occurred_at),
            "place": self.place,
            "declaration_ids": list(self.declaration_ids),
            "parties": list(self.parties),
            "reported_at": format_time(self.reported_at),
            "reported_by": self.reported_by,
            "version": self.version,
            "replies": [r.to_json() for r in self.replies],
        }


def incident_from_json(raw: Mapping[str, Any]) -> Incident:
    return Incident(
        id=raw["id"],
        party=raw["party"],
        kind=IncidentKind(raw["kind"]),
        title=raw["title"],
        description=raw["description"],
        occurred_at=parse_time(raw["occurred_at"], ""),
        place=raw["place"],
        declaration_ids=tuple(raw["declaration_ids"]),
        parties=tuple(raw["parties"]),
        reported_at=parse_time(raw["reported_at"], ""),
        reported_by=raw["reported_by"],
        version=raw["version"],
        replies=tuple(
            Reply(r["party"], r["principal"], r["text"], parse_time(r["at"], ""))
            for r in raw["replies"]
        ),
    )


_FIELDS = {"kind", "title", "description", "occurred_at", "place", "declaration_ids", "parties"}


def _ids(raw: Any, pointer: str, pattern: Any = None) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_LINKS:
        raise InvalidInput.one(pointer, "type", f"an array of at most {MAX_LINKS} ids")
    errors = [
        FieldError(f"{pointer}/{i}", "type", "an id")
        for i, x in enumerate(raw)
        if not isinstance(x, str) or not x or (pattern is not None and not pattern.match(x))
    ]
    if errors:
        raise InvalidInput(errors)
    return tuple(dict.fromkeys(raw))


def parse_incident(raw: Any, *, id: str, party: str, principal: str, now: datetime) -> Incident:
    if not isinstance(raw, Mapping):
        raise InvalidInput.one("", "type", "an incident report is a JSON object")
    errors = [
        FieldError(f"/{k}", "unknown_field", "not an incident field")
        for k in sorted(set(raw) - _FIELDS)
        if isinstance(k, str)
    ] + [
        FieldError(f"/{k}", "required", f"{k} is required")
        for k in ("kind", "title", "occurred_at", "place", "parties")
        if k not in raw
    ]
    if errors:
        raise InvalidInput(errors)
    try:
        kind = IncidentKind(raw["kind"])
    except ValueError:
        raise InvalidInput.one(
            "/kind", "enum", f"one of: {', '.join(k.value for k in IncidentKind)}"
        ) from None
    occurred_at = parse_time(raw["occurred_at"], "/occurred_at")
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidInput.one("/occurred_at", "in_future", "an incident has happened already")
    place = raw["place"]
    if not isinstance(place, Mapping) or set(place) - {"geometry", "buffer_m"}:
        raise InvalidInput.one("/place", "type", 'a place is {"geometry", "buffer_m"}')
    footprint = parse_footprint(place.get("geometry"), place.get("buffer_m"), "/place")
    parties = _ids(raw["parties"], "/parties", PARTY_ID)
    if not parties or party in parties:
        raise InvalidInput.one("/parties", "other_party", "one or more parties other than yours")
    description = raw.get("description")
    return Incident(
        id=id,
        party=party,
        kind=kind,
        title=_title(raw["title"]),
        description=None if description is None else parse_text(description, "/description"),
        occurred_at=occurred_at,
        place=footprint.to_json(),
        declaration_ids=_ids(raw.get("declaration_ids", []), "/declaration_ids"),
        parties=parties,
        reported_at=now,
        reported_by=principal,
    )


def _title(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 200:
        raise InvalidInput.one("/title", "length", "1 to 200 characters")
    return parse_text(raw, "/title")


def add_reply(incident: Incident, party: str, principal: str, raw: Any, now: datetime) -> Incident:
    """Attach a named party's reply (its right of reply); a party may reply more than once."""
    if party not in incident.parties:
        raise Forbidden("only a party the report names may reply to it")
    if not isinstance(raw, Mapping) or set(raw) != {"text"}:
        raise InvalidInput.one("", "type", 'a reply is {"text": "…"}')
    reply = Reply(party, principal, parse_text(raw["text"], "/text"), now)
    return dataclasses.replace(
        incident, version=incident.version + 1, replies=(*incident.replies, reply)
    )
