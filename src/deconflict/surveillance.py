"""Surveillance: parties report their own aircraft; every cycle the service predicts losses of
separation, zone entries and non-conformance, and tells both sides before it happens.

A report batch is all or nothing. Only each aircraft's latest report is kept, and only for
``retention``; nobody but the reporting party can read it back. A cycle dead-reckons every report
fresher than ``stale_after`` to the cycle's moment, detects (:mod:`deconflict.separation`,
:mod:`deconflict.track_zones`), and turns what lasts into encounters
(:mod:`deconflict.track_alerts`): each opened encounter is a critical notification to each party
concerned, revised when the prediction changes materially, and information only once it is over.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from deconflict.disclosure import WRITER_ROLES
from deconflict.errors import Forbidden, InvalidInput
from deconflict.inbox import Inbox
from deconflict.ledger import Entry, Ledger
from deconflict.notifications import Subject
from deconflict.principals import Principal
from deconflict.rules import Severity
from deconflict.separation import Separation, detect
from deconflict.store.base import Store
from deconflict.track_alerts import ChangeKind, OpenEncounter, pair_alerts, step
from deconflict.track_zones import zone_alerts
from deconflict.tracks import Track, parse_track, picture_at
from deconflict.volumes import parse_object

__all__ = ["Cycle", "Surveillance", "TrackPolicy"]

MAX_FUTURE = timedelta(seconds=5)
"""How far ahead of the service's clock a report's time may lie (clock skew)."""


@dataclass(frozen=True, slots=True)
class TrackPolicy:
    separation: Separation = field(default_factory=Separation)
    stale_after: timedelta = timedelta(seconds=30)
    retention: timedelta = timedelta(hours=1)
    grace: timedelta = timedelta(seconds=5)
    conformance_window: timedelta = timedelta(hours=1)
    batch_max: int = 10_000


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle did."""

    at: datetime
    tracks: int
    alerts: int
    opened: int
    revised: int
    closed: int
    purged: int


class Surveillance:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        inbox: Inbox,
        policy: TrackPolicy,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[str], str],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.inbox = inbox
        self.policy = policy
        self._clock = clock
        self._ids = ids
        self._open: dict[tuple[str, ...], OpenEncounter] | None = None
        self._cycle_lock = threading.Lock()

    # reports ------------------------------------------------------------------------------
    def report(self, who: Principal, raw: Any) -> dict[str, Any]:
        """Keep a batch ``{"tracks": [...]}`` of the principal's party's own aircraft."""
        if who.role not in WRITER_ROLES:
            raise Forbidden(f"a {who.role} cannot report tracks")
        tracks = self.parse_batch(who.party, raw)
        with self.store.write() as txn:
            txn.save_tracks(tracks)
        return {"accepted": len(tracks)}

    def parse_batch(self, party: str, raw: Any) -> list[Track]:
        obj = parse_object(raw, "", {"tracks"}, {"tracks"})
        items = obj["tracks"]
        if not isinstance(items, list):
            raise InvalidInput.one("/tracks", "type", "tracks is an array")
        if not 1 <= len(items) <= self.policy.batch_max:
            raise InvalidInput.one(
                "/tracks",
                "batch_size",
                f"a batch holds 1 to {self.policy.batch_max} reports",
            )
        now = self._clock()
        tracks = [parse_track(item, party, f"/tracks/{i}") for i, item in enumerate(items)]
        for i, t in enumerate(tracks):
            if t.time > now + MAX_FUTURE:
                raise InvalidInput.one(
                    f"/tracks/{i}/time",
                    "track_time_future",
                    f"a report's time is at most {MAX_FUTURE.seconds} s ahead of the service",
                )
            if t.time < now - self.policy.retention:
                raise InvalidInput.one(
                    f"/tracks/{i}/time",
                    "track_time_expired",
                    "a report is older than the service keeps tracks (track_retention_s)",
                )
        return tracks

    def own_tracks(self, who: Principal) -> list[dict[str, Any]]:
        """The latest report of each of the principal's party's aircraft; never another's."""
        with self.store.read() as txn:
            return [t.to_json() for t in txn.party_tracks(who.party)]

    # the cycle ----------------------------------------------------------------------------
    def cycle(self) -> Cycle:
        """Detect once at the clock's moment and tell the parties what changed."""
        with self._cycle_lock:
            return self._cycle(self._clock())

    def _cycle(self, now: datetime) -> Cycle:
        policy = self.policy
        with self.store.read() as txn:
            if self._open is None:
                self._open = txn.open_encounters()
            fresh = txn.tracks_since(now - policy.stale_after)
            declarations = (
                txn.track_declarations(
                    now - policy.conformance_window,
                    now + timedelta(seconds=policy.separation.lookahead_s),
                )
                if fresh
                else []
            )
        picture = picture_at(fresh, now)
        alerts = pair_alerts(picture, detect(picture.traffic, policy.separation), policy.separation)
        alerts += zone_alerts(
            picture,
            declarations,
            policy.separation.lookahead_s,
            conformance_horizon=policy.conformance_window,
        )
        after, changes = step(
            self._open,
            alerts,
            now,
            grace=policy.grace,
            horizontal_m=policy.separation.horizontal_m,
            ids=lambda: self._ids("enc"),
        )
        purged = 0
        if changes or self._due_purge(now):
            with self.store.write() as txn:
                purged = txn.purge_tracks(now - policy.retention)
                entries: list[Entry] = []
                for change in changes:
                    closed = change.kind is ChangeKind.CLOSED
                    for party in change.encounter.alert.views:
                        told = self.inbox.tell(
                            txn,
                            party,
                            Subject.ENCOUNTER,
                            change.encounter.id,
                            severity=Severity.INFO if closed else Severity.CRITICAL,
                            body=change.view(party),
                            now=now,
                            by=None,
                        )
                        if told is not None:
                            entries.append(told)
                txn.save_encounters(after.values())
                self.ledger.append(txn, entries)
        self._open = after
        counts = _count(changes)
        return Cycle(now, len(fresh), len(alerts), *counts, purged)

    def _due_purge(self, now: datetime) -> bool:
        """Whether a report has outlived the retention (checked without the write lock)."""
        with self.store.read() as txn:
            return txn.oldest_track_before(now - self.policy.retention)

    def open_encounters(self) -> Mapping[tuple[str, ...], OpenEncounter]:
        return dict(self._open or {})


def _count(changes: Sequence[Any]) -> tuple[int, int, int]:
    kinds = [c.kind for c in changes]
    return (
        kinds.count(ChangeKind.OPENED),
        kinds.count(ChangeKind.REVISED),
        kinds.count(ChangeKind.CLOSED),
    )
