"""The purge: retention's policy (:mod:`deconflict.retention`) applied to the store, one bounded
batch per write transaction, each declaration batch with its ``retention.purged`` ledger entry.

A batch commits whole or not at all, so a purge stopped at any point (a crash, a restart) leaves
the tables and the log in agreement, and the next run goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from deconflict.ledger import Ledger
from deconflict.retention import Purged, RetentionPolicy, purge_entry
from deconflict.store.base import Store

__all__ = ["EVENT_BATCH", "PurgeReport", "Purger"]

EVENT_BATCH = 5_000
"""Events deleted per write transaction, about."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    declarations: int = 0
    conflicts: int = 0
    notifications: int = 0
    events: int = 0
    batches: int = 0
    more: bool = False
    """Whether the last batch was full, so that more may be due."""

    def __add__(self, other: PurgeReport) -> PurgeReport:
        return PurgeReport(
            self.declarations + other.declarations,
            self.conflicts + other.conflicts,
            self.notifications + other.notifications,
            self.events + other.events,
            self.batches + other.batches,
            other.more,
        )


class Purger:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        policy: RetentionPolicy,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.policy = policy
        self._clock = clock

    def step(self) -> PurgeReport:
        """One write transaction: up to a batch of declarations done long enough ago, with
        their ledger entry; once none is left, up to a batch of delivered old events."""
        now = self._clock()
        before = self.policy.declarations_before(now)
        with self.store.write() as txn:
            txn.mark_events(now)
            ids = txn.declarations_done_before(before, self.policy.batch)
            purged = txn.purge_declarations(ids) if ids else Purged(())
            if purged:
                self.ledger.append(txn, [purge_entry(purged, before, now)])
            events = 0
            if len(ids) < self.policy.batch:
                events = txn.purge_events(self.policy.events_before(now), EVENT_BATCH)
        return PurgeReport(
            len(purged.declarations),
            len(purged.conflicts),
            len(purged.notifications),
            events,
            1,
            len(ids) == self.policy.batch or events >= EVENT_BATCH,
        )

    def run(self, max_batches: int | None = None) -> PurgeReport:
        """Batches until nothing more is due (or ``max_batches``)."""
        total = PurgeReport()
        while max_batches is None or total.batches < max_batches:
            total += self.step()
            if not total.more:
                break
        return total
