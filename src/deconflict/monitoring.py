"""The channel's health as a service: suspending and resuming a party's participation, the
scheduled line tests, when each party was last seen, and the health report every party sees."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

from deconflict.declarations import PROTECTED_KINDS, Declaration
from deconflict.disclosure import Role, Viewer
from deconflict.errors import Forbidden, IllegalTransition
from deconflict.figures import notification_figures, protected_object_figures
from deconflict.health import LINE_TEST_TEMPLATE, PartyHealth, Suspension, due_line_test
from deconflict.inbox import Inbox
from deconflict.ledger import EVERYONE, Entry, Ledger, Receipt
from deconflict.messages import parse_text
from deconflict.notifications import Subject
from deconflict.principals import Principal
from deconflict.rosters import Roster
from deconflict.rules import Severity
from deconflict.store.base import DeclarationQuery, Page, Store, StoreTxn
from deconflict.templates import TEMPLATES
from deconflict.volumes import format_time, parse_object

__all__ = ["Monitor"]

SEEN_RESOLUTION = timedelta(seconds=60)
"""Last-seen times are kept to the minute: recording every request would be a write each."""


class Monitor:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        inbox: Inbox,
        *,
        clock: Callable[[], datetime],
        line_test_times: Sequence[time] = (),
        not_seen_after: timedelta = timedelta(hours=12),
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.inbox = inbox
        self._clock = clock
        self.line_test_times = tuple(line_test_times)
        self.not_seen_after = not_seen_after
        self._seen: dict[str, datetime] = {}
        self._flushed: dict[str, datetime] = {}
        self._lock = threading.Lock()

    # last seen ----------------------------------------------------------------------------
    def seen(self, party: str) -> None:
        """A principal of ``party`` made a request (in memory; written by :meth:`tick`)."""
        with self._lock:
            self._seen[party] = self._clock()

    def _flush_seen(self) -> dict[str, datetime]:
        with self._lock:
            due = {
                p: at
                for p, at in self._seen.items()
                if p not in self._flushed or at - self._flushed[p] >= SEEN_RESOLUTION
            }
            self._flushed.update(due)
        return due

    # suspension ---------------------------------------------------------------------------
    def suspend(self, who: Principal, raw: Any) -> Receipt | None:
        """The party suspends its own participation, visibly to all; the channel goes on."""
        self._admin(who)
        reason = parse_text(parse_object(raw, "", {"reason"}, {"reason"})["reason"], "/reason")
        now = self._clock()
        with self.store.write() as txn:
            if who.party in txn.suspensions():
                raise IllegalTransition("the party's participation is suspended already")
            s = Suspension(who.party, now, reason, who.id)
            txn.save_suspension(s)
            return self._announce(txn, "party.suspended", {"party": who.party, **s.to_json()}, who)

    def resume(self, who: Principal) -> Receipt | None:
        self._admin(who)
        now = self._clock()
        with self.store.write() as txn:
            if not txn.delete_suspension(who.party):
                raise IllegalTransition("the party's participation is not suspended")
            body = {"party": who.party, "since": format_time(now), "by": who.id}
            return self._announce(txn, "party.resumed", body, who)

    def _announce(
        self, txn: StoreTxn, kind: str, body: dict[str, Any], who: Principal
    ) -> Receipt | None:
        for party in txn.list_parties():
            txn.add_event(party.id, "health", {"change": kind, **body})
        entry = Entry(kind, body, (who.party,), EVERYONE, self._clock(), who.id)
        return self.ledger.append(txn, [entry])

    @staticmethod
    def _admin(who: Principal) -> None:
        if who.role is not Role.PARTY_ADMIN:
            raise Forbidden("only the party's admin may suspend or resume its participation")

    # the clock ----------------------------------------------------------------------------
    def tick(self) -> int:
        """Record last-seen times; send each party not suspended its due line test. Returns how
        many line tests went out."""
        now = self._clock()
        seen = self._flush_seen()
        template = TEMPLATES[LINE_TEST_TEMPLATE]
        if not seen and not self._line_test_due(now):
            return 0  # most ticks: take no write lock for nothing
        with self.store.write() as txn:
            if seen:
                txn.save_seen(seen)
            suspended = txn.suspensions()
            sent = txn.line_tests()
            entries: list[Entry] = []
            for party in txn.list_parties():
                slot = due_line_test(now, self.line_test_times, sent.get(party.id))
                if slot is None or party.id in suspended:
                    continue
                body = {
                    "from": "channel",
                    "template": LINE_TEST_TEMPLATE,
                    "text": template.text,
                    "scheduled_for": format_time(slot),
                }
                subject_id = f"line-test/{format_time(slot)}"
                told = self.inbox.tell(
                    txn,
                    party.id,
                    Subject.MESSAGE,
                    subject_id,
                    severity=Severity.MEDIUM,
                    body=body,
                    now=now,
                    by=None,
                )
                txn.save_line_test(party.id, slot)
                if told is not None:
                    entries.append(told)
            self.ledger.append(txn, entries)
        return len(entries)

    def _line_test_due(self, now: datetime) -> bool:
        if not self.line_test_times:
            return False
        with self.store.read() as txn:
            sent = txn.line_tests()
            return any(
                due_line_test(now, self.line_test_times, sent.get(p.id)) is not None
                for p in txn.list_parties()
            )

    # the report ---------------------------------------------------------------------------
    def report(self, who: Principal) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            memory = dict(self._seen)
        with self.store.read() as txn:
            parties = txn.list_parties()
            suspended = txn.suspensions()
            stored_seen = txn.last_seen()
            tests = txn.line_tests()
            rows = []
            for party in parties:
                slot = tests.get(party.id)
                test = (
                    None
                    if slot is None
                    else txn.notification_about(
                        party.id, Subject.MESSAGE, f"line-test/{format_time(slot)}"
                    )
                )
                roster = txn.get_roster(party.id) or Roster(party.id, ())
                active = {p.id for p in txn.list_principals(party.id) if p.revoked_at is None}
                seen = [t for t in (memory.get(party.id), stored_seen.get(party.id)) if t]
                rows.append(
                    PartyHealth(
                        party.id,
                        party.name,
                        suspended.get(party.id),
                        max(seen) if seen else None,
                        test,
                        tuple(roster.only(active).gaps(now)),
                    )
                )
        return {
            "generated_at": format_time(now),
            "parties": [
                h.to_json(now, self.not_seen_after, own=h.party == who.party) for h in rows
            ],
        }

    # figures ------------------------------------------------------------------------------
    def figures(self, who: Principal) -> dict[str, Any]:
        """The caller's party's figures, the channel's as a whole (numbers only), and for each
        of the party's protected objects who was told of it and what happened to it since."""
        with self.store.read() as txn:
            everyone = txn.all_notifications()
            viewer = Viewer(who.party, Role.DUTY_OFFICER)

            def protected(after: int) -> Page[Declaration]:
                page = txn.list_declarations(viewer, DeclarationQuery(after=after, limit=1000))
                return Page([d for d in page.items if d.kind in PROTECTED_KINDS], page.next)

            own = [d for d in _all_pages(protected) if d.party == who.party]
            releases = [n for d in own for n in txn.notifications_about(Subject.RELEASE, d.id)]
            incidents = _all_pages(lambda after: txn.list_incidents(who.viewer, after, 1000))
        return {
            "generated_at": format_time(self._clock()),
            "party": notification_figures(n for n in everyone if n.party == who.party),
            "channel": notification_figures(everyone),
            "protected_objects": protected_object_figures(own, releases, incidents),
        }


T = TypeVar("T")


def _all_pages(fetch: Callable[[int], Page[T]]) -> list[T]:
    out: list[T] = []
    after = 0
    while True:
        page = fetch(after)
        out += page.items
        if page.next is None:
            return out
        after = page.next
