"""Reconciling the service's tables with its ledger: every stored record must be the latest the
log holds for it, so that an edit made to the database behind the service's back shows.

Pure, like :mod:`deconflict.audit`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from deconflict.audit import Problem
from deconflict.conflicts import Conflict
from deconflict.disclosure import conflict_recipients
from deconflict.ledger import LedgerError, canonical_json, parse_leaf
from deconflict.notifications import Notification, Subject
from deconflict.principals import Party, Principal
from deconflict.retention import PURGE_ENTRY, purged_ids

__all__ = ["check_state", "first_difference"]


def first_difference(a: Any, b: Any, pointer: str = "") -> str | None:
    """The JSON Pointer of the first place two JSON values differ, or ``None``.

    >>> first_difference({"a": [1, 2]}, {"a": [1, 3]})
    '/a/1'
    """
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            token = str(k).replace("~", "~0").replace("/", "~1")
            if k not in a or k not in b:
                return f"{pointer}/{token}"
            found = first_difference(a[k], b[k], f"{pointer}/{token}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{pointer}/{i}")
            if found is not None:
                return found
        return None if len(a) == len(b) else f"{pointer}/{min(len(a), len(b))}"
    if _number(a) and _number(b):
        return None if a == b else pointer or "/"
    return None if a == b and type(a) is type(b) else pointer or "/"


def _number(value: Any) -> bool:
    # JSON has one number type: 0 and 0.0 are the same number (RFC 8785 writes both as 0).
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_state(
    leaves: Iterable[tuple[int, bytes]],
    *,
    declarations: Iterable[tuple[str, int, str]],
    conflicts: Iterable[Conflict],
    notifications: Iterable[Notification] = (),
    parties: Iterable[Party] = (),
    principals: Iterable[Principal] = (),
    leaf_at: Callable[[int], bytes] | None = None,
) -> list[Problem]:
    """The service's tables against the log: every stored version of every declaration (id,
    version, JSON body), every notification, every party and every principal (its role above
    all) must be the latest the log holds for them; and every conflict must be as its
    notifications told it. Every declaration version and notification the log holds must
    still be stored, unless a later ``retention.purged`` entry names it as purged.

    Only a digest of each logged object is kept; ``leaf_at`` reads a leaf again to name the
    first difference of a mismatch."""
    latest: dict[tuple[str, str, str], tuple[int, bytes]] = {}
    purged: dict[tuple[str, str], int] = {}
    for index, leaf in leaves:
        try:
            entry = parse_leaf(leaf)
        except LedgerError:
            continue  # reported by check_log
        obj, family = entry["object"], str(entry["type"]).partition(".")[0]
        if entry["type"] == PURGE_ENTRY:
            for named, ids in purged_ids(obj).items():
                purged.update(((named, i), index) for i in ids)
        key = _state_key(family, obj)
        if key is not None:
            latest[key] = (index, _digest(obj))
    compare = _Comparison(latest, leaf_at)
    for decl_id, version, body in declarations:
        where = f"declaration {decl_id} version {version}"
        compare(where, ("declaration", decl_id, str(version)), json.loads(body))
    told: dict[tuple[str, str], Notification] = {}
    for stored in notifications:
        compare(f"notification {stored.id}", ("notification", stored.id, ""), stored.to_json())
        if stored.subject is Subject.CONFLICT:
            told[(stored.subject_id, stored.party)] = stored
    for conflict in conflicts:
        # Every side that sees the conflict was notified; each notification shows the conflict
        # as it now is (the relay's parties: where the relay was notified).
        relays = {recipient for c, recipient in told if c == conflict.id}
        for recipient, view in conflict_recipients(conflict, relays):
            where = f"conflict {conflict.id} as told to {recipient}"
            notice = told.get((conflict.id, recipient))
            pointer = None if notice is None else first_difference(notice.body, view)
            if notice is None:
                compare.problems.append(Problem("mismatch", where, "no notification told it"))
            elif pointer is not None:
                detail = f"differs from notification {notice.id} at {pointer}"
                compare.problems.append(Problem("mismatch", where, detail))
    for party in parties:
        compare(f"party {party.id}", ("party", party.id, ""), party.to_json())
    for principal in principals:
        compare(f"principal {principal.id}", ("principal", principal.id, ""), principal.to_json())
    compare.problems += _missing(latest, compare.seen, purged)
    return compare.problems


def _missing(
    latest: Mapping[tuple[str, str, str], tuple[int, bytes]],
    seen: set[tuple[str, str, str]],
    purged: Mapping[tuple[str, str], int],
) -> list[Problem]:
    """Declaration versions and notifications the log holds that the tables do not, and that
    no ``retention.purged`` entry after their latest entry removed."""
    problems = []
    for key, (index, _) in sorted(latest.items(), key=lambda item: item[1][0]):
        family, object_id, version = key
        if family not in ("declaration", "notification") or key in seen:
            continue
        if purged.get((family, object_id), -1) > index:
            continue
        where = f"{family} {object_id}" + (f" version {version}" if version else "")
        detail = f"ledger leaf {index} holds it, the tables do not, and no retention purged it"
        problems.append(Problem("mismatch", where, detail))
    return problems


def _state_key(family: str, obj: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """Which stored record a logged object is the latest of."""
    if family == "declaration":
        return family, str(obj.get("id")), str(obj.get("version"))
    if family == "notification":
        return family, str(obj.get("id")), ""
    if family in ("party", "principal"):
        return family, str(obj.get("id")), ""
    return None


def _digest(obj: Any) -> bytes:
    return hashlib.sha256(canonical_json(obj)).digest()


class _Comparison:
    def __init__(
        self,
        latest: Mapping[tuple[str, str, str], tuple[int, bytes]],
        leaf_at: Callable[[int], bytes] | None,
    ) -> None:
        self.latest = latest
        self.leaf_at = leaf_at
        self.problems: list[Problem] = []
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, where: str, key: tuple[str, str, str], stored: Any) -> None:
        self.seen.add(key)
        logged = self.latest.get(key)
        if logged is None:
            self.problems.append(Problem("mismatch", where, "the log holds no entry for it"))
            return
        index, digest = logged
        try:
            if _digest(stored) == digest:
                return
        except (ValueError, TypeError):
            pass  # a stored value no canonical JSON can hold differs from any logged one
        detail = f"differs from ledger leaf {index}"
        if self.leaf_at is not None:
            pointer = first_difference(parse_leaf(self.leaf_at(index))["object"], stored)
            detail += f" at {pointer or '/'}"
        self.problems.append(Problem("mismatch", where, detail))
