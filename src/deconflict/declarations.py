"""Declarations: what a party plans to do or asks to be protected, versioned, with a state.

A declaration is owned by one party. Its state moves along :data:`TRANSITIONS`; only planned and
active declarations take part in conflict detection. Protected objects (sites and humanitarian
movements) carry a release list, a verification status and an expiry; coordination measures carry
their type and their controlling party.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from deconflict.errors import FieldError, IllegalTransition, InvalidInput, pointer_token
from deconflict.volumes import Volume4D, format_time, parse_time, parse_volume

__all__ = [
    "DETECTABLE_STATES",
    "MAX_VOLUMES",
    "PROTECTED_KINDS",
    "TRANSITIONS",
    "Declaration",
    "Kind",
    "MeasureType",
    "SiteType",
    "State",
    "Verification",
    "apply_patch",
    "from_json",
    "parse_new",
]

MAX_VOLUMES = 50
MAX_TITLE = 200
MAX_TEXT = 2_000
MAX_RELEASES = 100
E = TypeVar("E", bound=StrEnum)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PARTY_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class Kind(StrEnum):
    AIR_OPERATION = "air_operation"
    GROUND_OPERATION = "ground_operation"
    STRIKE = "strike"
    AIR_DEFENSE_ZONE = "air_defense_zone"
    LAUNCH_NOTICE = "launch_notice"
    PROTECTED_SITE = "protected_site"
    HUMANITARIAN_MOVEMENT = "humanitarian_movement"
    COORDINATION_MEASURE = "coordination_measure"


PROTECTED_KINDS = frozenset({Kind.PROTECTED_SITE, Kind.HUMANITARIAN_MOVEMENT})


class State(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.PLANNED: frozenset({State.ACTIVE, State.CANCELLED}),
    State.ACTIVE: frozenset({State.ENDED, State.CANCELLED}),
    State.ENDED: frozenset(),
    State.CANCELLED: frozenset(),
}
DETECTABLE_STATES = frozenset({State.PLANNED, State.ACTIVE})


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    DISPUTED = "disputed"


class SiteType(StrEnum):
    HOSPITAL = "hospital"
    SCHOOL = "school"
    SHELTER = "shelter"
    WAREHOUSE = "warehouse"
    OFFICE = "office"
    CAMP = "camp"
    OTHER = "other"


class MeasureType(StrEnum):
    AREA_OF_RESPONSIBILITY = "area_of_responsibility"
    LINE = "line"


# Which optional fields each kind takes: a field of another kind is rejected as not applicable,
# any other as unknown.
_COMMON = frozenset({"kind", "title", "volumes", "state", "callsign", "purpose"})
_BY_KIND: Mapping[Kind, frozenset[str]] = {
    **dict.fromkeys(Kind, _COMMON),
    Kind.PROTECTED_SITE: _COMMON | {"released_to", "verification", "expires_at", "site_type"},
    Kind.HUMANITARIAN_MOVEMENT: _COMMON
    | {"released_to", "verification", "expires_at", "emergency"},
    Kind.COORDINATION_MEASURE: _COMMON | {"measure", "controlling_party"},
}
_ANY_KIND = frozenset().union(*_BY_KIND.values())
_IMMUTABLE = frozenset({"kind"})


@dataclass(frozen=True, slots=True)
class Declaration:
    id: str
    kind: Kind
    title: str
    party: str
    version: int
    state: State
    volumes: tuple[Volume4D, ...]
    created_at: datetime
    updated_at: datetime
    callsign: str | None = None
    purpose: str | None = None
    released_to: tuple[str, ...] = ()
    verification: Verification | None = None
    expires_at: datetime | None = None
    site_type: SiteType | None = None
    measure: MeasureType | None = None
    controlling_party: str | None = None
    emergency: bool = False
    """A humanitarian movement at short notice for a reason (a shorter minimum notice)."""
    notice: dict[str, Any] | None = None
    """The lead time it gave when accepted (:mod:`deconflict.notice`), set by the service."""

    @property
    def is_protected(self) -> bool:
        return self.kind in PROTECTED_KINDS

    @property
    def detectable(self) -> bool:
        return self.state in DETECTABLE_STATES

    def effective_volumes(self) -> tuple[Volume4D, ...]:
        """The volumes that take part in detection: a protected object stops being protected
        at its expiry."""
        if self.expires_at is None:
            return self.volumes
        cut = self.expires_at
        return tuple(
            dataclasses.replace(v, time=dataclasses.replace(v.time, end=min(v.time.end, cut)))
            for v in self.volumes
            if v.time.start <= cut
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "title": self.title,
            "party": self.party,
            "version": self.version,
            "state": str(self.state),
            "volumes": [v.to_json() for v in self.volumes],
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "callsign": self.callsign,
            "purpose": self.purpose,
            "notice": self.notice,
        }
        if self.kind is Kind.HUMANITARIAN_MOVEMENT:
            out["emergency"] = self.emergency
        if self.is_protected:
            out["released_to"] = list(self.released_to)
            out["verification"] = str(self.verification)
            out["expires_at"] = format_time(self.expires_at) if self.expires_at else None
            if self.kind is Kind.PROTECTED_SITE:
                out["site_type"] = str(self.site_type) if self.site_type else None
        if self.kind is Kind.COORDINATION_MEASURE:
            out["measure"] = str(self.measure)
            out["controlling_party"] = self.controlling_party
        return out


def _text(raw: Any, pointer: str, limit: int, *, optional: bool) -> str | None:
    if raw is None and optional:
        return None
    if not isinstance(raw, str):
        raise InvalidInput.one(pointer, "type", "expected a string")
    value = raw.strip()
    if not value or len(value) > limit:
        raise InvalidInput.one(pointer, "length", f"between 1 and {limit} characters")
    if _CONTROL.search(value):
        raise InvalidInput.one(
            pointer,
            "control_character",
            "text may hold line breaks and tabs but no other control characters",
        )
    return value


def _enum(cls: type[E], raw: Any, pointer: str) -> E:
    try:
        return cls(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise InvalidInput.one(pointer, "enum", f"one of: {allowed}") from None


def _volumes(raw: Any) -> tuple[Volume4D, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput.one("/volumes", "volumes_count", "volumes is a non-empty array")
    if len(raw) > MAX_VOLUMES:
        raise InvalidInput.one("/volumes", "volumes_count", f"at most {MAX_VOLUMES} volumes")
    return tuple(parse_volume(v, f"/volumes/{i}") for i, v in enumerate(raw))


def _party_list(raw: Any, pointer: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_RELEASES:
        raise InvalidInput.one(pointer, "type", f"an array of at most {MAX_RELEASES} party ids")
    for i, p in enumerate(raw):
        if not isinstance(p, str) or not PARTY_ID.match(p):
            raise InvalidInput.one(f"{pointer}/{i}", "party_id", "not a party id")
    return tuple(sorted(set(raw)))


def _fields(kind: Kind, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the kind-specific and free-text fields present in ``raw``."""
    allowed = _BY_KIND[kind]
    errors = [
        FieldError(f"/{k}", "not_applicable", f"{k!r} does not apply to {kind.value}")
        if k in _ANY_KIND
        else FieldError(f"/{pointer_token(k)}", "unknown_field", f"unknown field {k!r}")
        for k in sorted(set(raw) - allowed)
    ]
    if errors:
        raise InvalidInput(errors)
    out: dict[str, Any] = {}
    for name in ("callsign", "purpose"):
        if name in raw:
            out[name] = _text(raw[name], f"/{name}", MAX_TEXT, optional=True)
    if "title" in raw:
        out["title"] = _text(raw["title"], "/title", MAX_TITLE, optional=False)
    if "volumes" in raw:
        out["volumes"] = _volumes(raw["volumes"])
    # In a merge patch (RFC 7396) null removes a member: these fall back to their defaults.
    if "released_to" in raw:
        released = raw["released_to"]
        out["released_to"] = () if released is None else _party_list(released, "/released_to")
    if "verification" in raw:
        verification = raw["verification"]
        out["verification"] = (
            Verification.UNVERIFIED
            if verification is None
            else _enum(Verification, verification, "/verification")
        )
    if "expires_at" in raw:
        out["expires_at"] = (
            None if raw["expires_at"] is None else parse_time(raw["expires_at"], "/expires_at")
        )
    if raw.get("site_type") is not None:
        out["site_type"] = _enum(SiteType, raw["site_type"], "/site_type")
    if raw.get("measure") is not None:
        out["measure"] = _enum(MeasureType, raw["measure"], "/measure")
    if "emergency" in raw:
        emergency = raw["emergency"]
        if emergency is not None and not isinstance(emergency, bool):
            raise InvalidInput.one("/emergency", "type", "emergency is true or false")
        out["emergency"] = bool(emergency)
    if "controlling_party" in raw:
        out["controlling_party"] = _party_list([raw["controlling_party"]], "/controlling_party")[0]
    return out


def parse_new(raw: Any, *, id: str, party: str, now: datetime) -> Declaration:
    """A new declaration (version 1) from decoded JSON; ``party`` is the caller's."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.one("", "type", "a declaration is a JSON object")
    missing = [
        FieldError(f"/{k}", "required", f"{k} is required")
        for k in ("kind", "title", "volumes")
        if k not in raw
    ]
    if missing:
        raise InvalidInput(missing)
    kind = _enum(Kind, raw["kind"], "/kind")
    fields = _fields(kind, raw)
    state = _enum(State, raw.get("state", "planned"), "/state")
    if state not in DETECTABLE_STATES:
        raise InvalidInput.one("/state", "initial_state", "a new declaration is planned or active")
    if kind in PROTECTED_KINDS:
        fields.setdefault("verification", Verification.UNVERIFIED)
    if kind is Kind.COORDINATION_MEASURE:
        fields.setdefault("measure", MeasureType.AREA_OF_RESPONSIBILITY)
        fields.setdefault("controlling_party", party)
    return Declaration(
        id=id,
        kind=kind,
        party=party,
        version=1,
        state=state,
        created_at=now,
        updated_at=now,
        **fields,
    )


def apply_patch(current: Declaration, raw: Any, *, now: datetime) -> Declaration:
    """The next version of ``current`` with the fields of a JSON merge patch applied."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput.one("", "type", "a patch is a non-empty JSON object")
    frozen = sorted(_IMMUTABLE & set(raw))
    if frozen:
        raise InvalidInput.one(f"/{frozen[0]}", "immutable", f"{frozen[0]} cannot change")
    if "volumes" in raw and raw["volumes"] is None:
        raise InvalidInput.one("/volumes", "volumes_count", "volumes is a non-empty array")
    fields = _fields(current.kind, raw)
    if "state" in raw:
        target = _enum(State, raw["state"], "/state")
        if target != current.state and target not in TRANSITIONS[current.state]:
            raise IllegalTransition(f"a declaration cannot go from {current.state} to {target}")
        fields["state"] = target
    if current.state not in DETECTABLE_STATES:
        raise IllegalTransition(f"a {current.state} declaration cannot be amended")
    return dataclasses.replace(current, version=current.version + 1, updated_at=now, **fields)


def from_json(raw: Mapping[str, Any]) -> Declaration:
    """A declaration as stored by :meth:`Declaration.to_json` (trusted: written by us)."""
    kind = Kind(raw["kind"])

    def opt_time(name: str) -> datetime | None:
        value = raw.get(name)
        return None if value is None else parse_time(value, f"/{name}")

    return Declaration(
        id=raw["id"],
        kind=kind,
        title=raw["title"],
        party=raw["party"],
        version=raw["version"],
        state=State(raw["state"]),
        volumes=tuple(
            parse_volume(v, f"/volumes/{i}", trusted=True) for i, v in enumerate(raw["volumes"])
        ),
        created_at=parse_time(raw["created_at"], "/created_at"),
        updated_at=parse_time(raw["updated_at"], "/updated_at"),
        callsign=raw.get("callsign"),
        purpose=raw.get("purpose"),
        released_to=tuple(raw.get("released_to") or ()),
        verification=Verification(raw["verification"]) if raw.get("verification") else None,
        expires_at=opt_time("expires_at"),
        site_type=SiteType(raw["site_type"]) if raw.get("site_type") else None,
        measure=MeasureType(raw["measure"]) if raw.get("measure") else None,
        controlling_party=raw.get("controlling_party"),
        emergency=bool(raw.get("emergency", False)),
        notice=raw.get("notice"),
    )
