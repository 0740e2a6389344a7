"""Retention: when an ended declaration, and what hangs on it, leaves the service's tables, and
how its removal is put on the record.

The ledger is the archive. Its leaves, nodes and checkpoints are never purged, so every receipt,
inclusion and consistency proof and evidence file stays valid; what is purged are the rows the
live channel serves (declarations and their versions, conflicts, notifications, events). Each
purge appends one ``retention.purged`` entry naming what it removed, in the transaction that
removes it, so that ``deconflict verify --data-dir`` can tell a purge from a row deleted behind
the service's back (:mod:`deconflict.reconcile`).

Pure: no store, no clock.

>>> from datetime import UTC
>>> policy = RetentionPolicy(declarations=timedelta(days=30))
>>> policy.declarations_before(datetime(2017, 5, 6, tzinfo=UTC)).isoformat()
'2017-04-06T00:00:00+00:00'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deconflict.declarations import Declaration, State
from deconflict.ledger import NOBODY, Entry
from deconflict.volumes import format_time

__all__ = [
    "PURGE_BATCH",
    "PURGE_ENTRY",
    "Purged",
    "RetentionPolicy",
    "done_at",
    "purge_entry",
    "purged_ids",
]

PURGE_ENTRY = "retention.purged"
PURGE_BATCH = 100
"""Declarations purged per write transaction: a batch with its conflicts, notifications and
ledger entry takes milliseconds, so a large backlog never holds the write lock for long."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    declarations: timedelta = timedelta(days=30)
    """How long after a declaration is done (:func:`done_at`) its rows are kept."""
    events: timedelta = timedelta(days=14)
    """How long a live event is kept at least (longer while a webhook has not delivered it)."""
    batch: int = PURGE_BATCH

    def declarations_before(self, now: datetime) -> datetime:
        """Declarations done before this are purged."""
        return now - self.declarations

    def events_before(self, now: datetime) -> datetime:
        """Events written before this are purged once delivered to the party's webhook."""
        return now - self.events


def done_at(decl: Declaration) -> datetime:
    """When a declaration stopped mattering to the live channel: the end of its last time
    window, or when it was cancelled if that came first. Its state is not trusted further: an
    operation left ``active`` whose window ended a month ago is done."""
    end = max(v.time.end for v in decl.volumes)
    if decl.state is State.CANCELLED:
        return min(end, decl.updated_at)
    return end


@dataclass(frozen=True, slots=True)
class Purged:
    """What one purge transaction removed."""

    declarations: tuple[str, ...]
    conflicts: tuple[str, ...] = ()
    notifications: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.declarations or self.conflicts or self.notifications)


def purge_entry(purged: Purged, before: datetime, at: datetime) -> Entry:
    """The ledger entry of a purge. It names objects of every party, so no party may read it
    (the operator's ``verify --data-dir`` and ``export-log`` do); its hash is in the tree like
    every other leaf's."""
    obj = {
        "done_before": format_time(before),
        "declarations": list(purged.declarations),
        "conflicts": list(purged.conflicts),
        "notifications": list(purged.notifications),
    }
    return Entry(PURGE_ENTRY, obj, (), NOBODY, at)


def purged_ids(obj: Mapping[str, Any]) -> dict[str, Sequence[str]]:
    """The ids a ``retention.purged`` entry's object names, by family (``declaration``,
    ``conflict``, ``notification``); a malformed list counts as naming nothing.

    >>> purged_ids({"declarations": ["dcl_1"], "notifications": "bad"})
    {'declaration': ['dcl_1'], 'conflict': [], 'notification': []}
    """
    out: dict[str, Sequence[str]] = {}
    for family in ("declaration", "conflict", "notification"):
        ids = obj.get(family + "s")
        out[family] = [str(i) for i in ids] if isinstance(ids, list) else []
    return out
