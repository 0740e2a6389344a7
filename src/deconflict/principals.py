"""Parties and principals (people or systems of a party), with bearer tokens stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconflict.disclosure import Role, Viewer
from deconflict.volumes import format_time

__all__ = ["TOKEN_PREFIX", "Party", "Principal", "hash_token", "new_token"]

TOKEN_PREFIX = "dcf_"  # noqa: S105  (a public marker that helps secret scanners, not a secret)


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": format_time(self.created_at)}


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    party: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.party, self.role)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "name": self.name,
            "role": str(self.role),
            "created_at": format_time(self.created_at),
            "revoked_at": format_time(self.revoked_at) if self.revoked_at else None,
        }


def new_token() -> str:
    """A fresh bearer token: 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Tokens carry 256 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
