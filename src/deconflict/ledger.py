"""The ledger: what every accepted write adds to the log, who may read it, and the receipt its
writer gets.

Each accepted write becomes one or more *entries*. An entry's leaf is the RFC 8785 canonical
JSON of ``{"type", "at", "by", "object", "salt"}`` with 16 random bytes of salt, so its hash
reveals nothing to someone who cannot read it. A leaf is readable by its *audience*, fixed when
it is written: a declaration's leaf by those who may see that version of it; a conflict gives
one leaf per distinct view, each readable by the parties that were shown exactly that view. The
leaves go into the RFC 9162 tree of :mod:`deconflict.merkle`, and each write ends with a signed
C2SP checkpoint (:mod:`deconflict.notes`) over the tree that contains it.

Pure: the store is reached through :class:`LedgerTxn`; time and randomness come from outside.

>>> from datetime import UTC
>>> at = datetime(2026, 1, 1, tzinfo=UTC)
>>> e = Entry("party.added", {"id": "un"}, ("un",), EVERYONE, at)
>>> leaf_bytes(e, bytes(16))
b'{"at":"2026-01-01T00:00:00Z","by":null,"object":{"id":"un"},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","type":"party.added"}'
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import rfc8785

from deconflict.declarations import Declaration, Kind, State
from deconflict.disclosure import Viewer
from deconflict.merkle import (
    appended_nodes,
    leaf_hash,
    root_from_inclusion,
    stored_inclusion_proof,
)
from deconflict.notes import Checkpoint, SignerKey
from deconflict.notifications import Notification
from deconflict.principals import Party, Principal
from deconflict.volumes import format_time

__all__ = [
    "EVERYONE",
    "EVIDENCE_FORMAT",
    "HIDDEN_SLOTS",
    "NOBODY",
    "SALT_BYTES",
    "Audience",
    "Entry",
    "Ledger",
    "LedgerError",
    "LedgerTxn",
    "Receipt",
    "b64",
    "canonical_json",
    "declaration_entry",
    "leaf_bytes",
    "notification_entry",
    "padded",
    "parse_leaf",
    "party_entry",
    "principal_entry",
]

SALT_BYTES = 16
HIDDEN_SLOTS = 4
"""Leaves every detecting write appends for conflicts hidden from its writer, real or padding:
the log's growth must not tell a party that its declaration touched an unreleased protected
object. More hidden conflicts than this in one write do show as extra leaves."""
EVIDENCE_FORMAT = "deconflict-evidence/1"


class LedgerError(ValueError):
    """A leaf that is not an entry of this ledger in canonical form."""


def b64(raw: bytes) -> str:
    """Standard base64, as every hash and leaf is written in JSON."""
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may read a leaf: the named parties (``"*"``: every party) and, if ``relay``, the
    relay's principals."""

    parties: frozenset[str]
    relay: bool = False

    def admits(self, viewer: Viewer) -> bool:
        return "*" in self.parties or viewer.party in self.parties or (self.relay and viewer.relay)

    def __or__(self, other: Audience) -> Audience:
        return Audience(self.parties | other.parties, self.relay or other.relay)

    def to_text(self) -> str:
        """``*`` or the party ids joined by commas, then ``+relay`` if the relay reads it too."""
        return ",".join(sorted(self.parties)) + ("+relay" if self.relay else "")

    @classmethod
    def from_text(cls, text: str) -> Audience:
        names, _, relay = text.partition("+")
        return cls(frozenset(n for n in names.split(",") if n), relay == "relay")


EVERYONE = Audience(frozenset({"*"}))
NOBODY = Audience(frozenset())


@dataclass(frozen=True, slots=True)
class Entry:
    type: str
    object: dict[str, Any]
    subjects: tuple[str, ...]
    """Ids of the objects the entry is about (for evidence)."""
    audience: Audience
    at: datetime
    by: str | None = None
    """The principal who made the write; ``None`` for the operator's command line."""


_SAFE_INT = 2**53


class _Unusual(Exception):
    """A value the standard library's encoder might write otherwise than RFC 8785."""


def _plain(value: Any) -> Any:
    """``value`` with integral floats as ints, the form in which :func:`json.dumps` writes the
    RFC 8785 bytes; :class:`_Unusual` where the two could differ."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) and k.isascii() for k in value):
            raise _Unusual  # RFC 8785 sorts keys by UTF-16 code units, Python by code points
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int) and abs(value) < _SAFE_INT:
        return value
    if isinstance(value, float) and math.isfinite(value):
        if value.is_integer():
            if abs(value) < _SAFE_INT:
                return int(value)  # ECMAScript writes 18000.0 as 18000
        elif 1e-4 <= abs(value) < 1e16:
            return value  # both write the shortest round-trip digits without an exponent here
    raise _Unusual


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) bytes of ``value``.

    The standard library's C encoder writes them for the values a ledger holds, about twice as
    fast as the pure-Python :mod:`rfc8785`, which takes every value where the two could differ
    (and refuses what RFC 8785 refuses). A property test pins the two together.

    >>> canonical_json({"b": [18000.0, 0.5, "é"], "a": None})
    b'{"a":null,"b":[18000,0.5,"\xc3\xa9"]}'
    """
    try:
        plain = _plain(value)
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()  # a lone surrogate fails here, as RFC 8785 wants
    except (_Unusual, UnicodeEncodeError):
        return rfc8785.dumps(value)


def leaf_bytes(entry: Entry, salt: bytes) -> bytes:
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a salt is {SALT_BYTES} bytes")
    return canonical_json(
        {
            "type": entry.type,
            "at": format_time(entry.at),
            "by": entry.by,
            "object": entry.object,
            "salt": b64(salt),
        }
    )


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    """The entry a leaf holds; :class:`LedgerError` unless it is one, in canonical form."""
    try:
        data = json.loads(leaf)
    except (ValueError, UnicodeDecodeError):
        raise LedgerError("the leaf is not JSON") from None
    keys = {"type", "at", "by", "object", "salt"}
    if not isinstance(data, dict) or set(data) != keys or not isinstance(data["object"], dict):
        raise LedgerError("the leaf is not a ledger entry")
    try:
        canonical = canonical_json(data)
    except (rfc8785.CanonicalizationError, ValueError):
        raise LedgerError("the leaf cannot be put in canonical form") from None
    if canonical != leaf:
        raise LedgerError("the leaf is not in RFC 8785 canonical form")
    return data


# Entries of each write -------------------------------------------------------------------------


def declaration_audience(decl: Declaration) -> Audience:
    if decl.kind is Kind.COORDINATION_MEASURE:
        return EVERYONE
    if decl.is_protected:
        return Audience(frozenset({decl.party, *decl.released_to}), relay=True)
    return Audience(frozenset({decl.party}))


def declaration_entry(
    decl: Declaration, previous: Declaration | None, at: datetime, by: str | None
) -> Entry:
    if previous is None:
        kind = "declaration.created"
    elif decl.state is State.CANCELLED and previous.state is not State.CANCELLED:
        kind = "declaration.cancelled"
    elif set(decl.released_to) - set(previous.released_to):
        kind = "declaration.released"
    else:
        kind = "declaration.amended"
    return Entry(kind, decl.to_json(), (decl.id,), declaration_audience(decl), at, by)


def notification_entry(n: Notification, change: str, by: str | None) -> Entry:
    """A notification as its recipient party has it after ``change`` (created, revised,
    delivered, acknowledged, escalated): the record that the party was told, and of what it
    did. Readable by the recipient party only."""
    subjects = tuple(dict.fromkeys(x for x in (n.id, n.subject_id, n.declaration_id) if x))
    audience = Audience(frozenset({n.party}))
    return Entry(f"notification.{change}", n.to_json(), subjects, audience, n.updated_at, by)


def padded(hidden: Sequence[Entry], at: datetime) -> list[Entry]:
    """``hidden`` filled up to :data:`HIDDEN_SLOTS` with padding entries that nobody reads."""
    padding = Entry("ledger.padding", {}, (), NOBODY, at)
    return [*hidden, *[padding] * (HIDDEN_SLOTS - len(hidden))]


def party_entry(party: Party, by: str | None) -> Entry:
    return Entry("party.added", party.to_json(), (party.id,), EVERYONE, party.created_at, by)


def principal_entry(principal: Principal, at: datetime, by: str | None) -> Entry:
    kind = "principal.added" if principal.revoked_at is None else "principal.revoked"
    audience = Audience(frozenset({principal.party}))
    return Entry(kind, principal.to_json(), (principal.id,), audience, at, by)


# Appending ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that a write is in the log: its leaf, a checkpoint whose tree includes it and the
    inclusion proof against that checkpoint."""

    leaf_index: int
    leaf_hash: bytes
    checkpoint: str
    inclusion: list[bytes] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": b64(self.leaf_hash),
            "checkpoint": self.checkpoint,
            "inclusion": [b64(h) for h in self.inclusion],
        }


class LedgerTxn(Protocol):
    def ledger_size(self) -> int: ...
    def ledger_node(self, level: int, index: int) -> bytes: ...
    def ledger_append(
        self,
        index: int,
        leaf: bytes,
        audience: Audience,
        subjects: Sequence[str],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None: ...
    def ledger_save_checkpoint(self, size: int, note: str) -> None: ...


def _salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


class Ledger:
    """Appends entries inside the caller's write transaction and signs the new tree head."""

    def __init__(self, signer: SignerKey, *, salts: Callable[[], bytes] = _salt) -> None:
        self.signer = signer
        self._salts = salts

    @property
    def origin(self) -> str:
        return self.signer.name

    def append(self, txn: LedgerTxn, entries: Sequence[Entry]) -> Receipt | None:
        """Append ``entries`` in order; the receipt of the first, or ``None`` for none."""
        if not entries:
            return None
        size = first = txn.ledger_size()
        first_hash = b""
        for entry in entries:
            leaf = leaf_bytes(entry, self._salts())
            digest = leaf_hash(leaf)
            first_hash = first_hash or digest
            nodes = appended_nodes(size, digest, txn.ledger_node)
            txn.ledger_append(size, leaf, entry.audience, entry.subjects, nodes)
            size += 1
        # The receipt's proof gives the root too: no second walk over the stored nodes.
        proof = stored_inclusion_proof(txn.ledger_node, first, size)
        tree_root = root_from_inclusion(first, size, first_hash, proof)
        note = Checkpoint(self.origin, size, tree_root).sign(self.signer)
        txn.ledger_save_checkpoint(size, note)
        return Receipt(first, first_hash, note, proof)
