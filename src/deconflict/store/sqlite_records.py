"""How records are written in the SQLite store's JSON and rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deconflict.conflicts import Conflict, ConflictState, Side
from deconflict.declarations import Kind
from deconflict.disclosure import Role
from deconflict.principals import Principal
from deconflict.rules import ConflictKind, Severity
from deconflict.volumes import format_time, parse_time

__all__ = ["conflict_from_json", "conflict_to_json", "principal_from_row"]


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value, "")


def _side_json(side: Side) -> dict[str, Any]:
    return {
        "declaration_id": side.declaration_id,
        "party": side.party,
        "kind": str(side.kind),
        "protected": side.protected,
        "sees": side.sees,
    }


def _side(raw: dict[str, Any]) -> Side:
    return Side(
        raw["declaration_id"], raw["party"], Kind(raw["kind"]), raw["protected"], raw["sees"]
    )


def conflict_to_json(c: Conflict) -> str:
    return json.dumps(
        {
            "id": c.id,
            "kind": str(c.kind),
            "severity": str(c.severity),
            "state": str(c.state),
            "version": c.version,
            "a": _side_json(c.a),
            "b": _side_json(c.b),
            "overlap": c.overlap,
            # With one pair of volumes the list is the overlap itself: not stored twice.
            "overlaps": list(c.overlaps) if len(c.overlaps) > 1 else None,
            "detected_at": format_time(c.detected_at),
            "updated_at": format_time(c.updated_at),
        },
        separators=(",", ":"),
    )


def conflict_from_json(body: str) -> Conflict:
    raw = json.loads(body)
    return Conflict(
        id=raw["id"],
        kind=ConflictKind(raw["kind"]),
        severity=Severity(raw["severity"]),
        state=ConflictState(raw["state"]),
        version=raw["version"],
        a=_side(raw["a"]),
        b=_side(raw["b"]),
        overlap=raw["overlap"],
        overlaps=tuple(raw["overlaps"] or [raw["overlap"]]),
        detected_at=parse_time(raw["detected_at"], ""),
        updated_at=parse_time(raw["updated_at"], ""),
    )


def principal_from_row(row: Any) -> Principal:
    return Principal(
        row["id"],
        row["party_id"],
        row["name"],
        Role(row["role"]),
        parse_time(row["created_at"], ""),
        _time(row["revoked_at"]),
    )
