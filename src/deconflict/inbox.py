"""The channel's inbox: telling parties, recording that they took it in, escalating when they
do not, and each party's roster.

Every change to a notification is one write transaction that also appends to the recipient's
live event stream and to the ledger, so what a party was told, when it was delivered, who
acknowledged it and who was called when nobody did are all on the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from deconflict.conflicts import Conflict, ConflictState
from deconflict.declarations import Declaration, Kind, State
from deconflict.disclosure import WRITER_ROLES, Role, conflict_recipients
from deconflict.errors import Forbidden, InvalidInput, NotFound, VersionMismatch
from deconflict.ledger import Entry, Ledger, Receipt, notification_entry
from deconflict.notifications import (
    Deadlines,
    Notification,
    Subject,
    acknowledge,
    deliver,
    escalate,
    new_notification,
    revise,
)
from deconflict.principals import Principal
from deconflict.rosters import Roster, parse_roster
from deconflict.rules import Severity
from deconflict.store.base import Page, Store, StoreTxn
from deconflict.volumes import parse_object

__all__ = ["ACKNOWLEDGING_ROLES", "LAUNCH_SEVERITY", "RELEASE_SEVERITY", "Inbox"]

ACKNOWLEDGING_ROLES = WRITER_ROLES
"""Who may acknowledge for a party: a person on duty, not a read-only viewer."""

RELEASE_SEVERITY = Severity.HIGH
"""A protected object released to a party must be acknowledged: the lists of hospitals that
were struck were ones each side later denied receiving."""

LAUNCH_SEVERITY = Severity.HIGH
"""A launch notice is told to every other party and must be acknowledged."""

DUE_BATCH = 500


def _shift_of(roster: Roster, now: datetime) -> Callable[[int], tuple[str, ...]]:
    def on_shift(level: int) -> tuple[str, ...]:
        return roster.on_shift(level, now)

    return on_shift


class Inbox:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        deadlines: Deadlines,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[str], str],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.deadlines = deadlines
        self._clock = clock
        self._ids = ids

    # telling, inside the caller's write transaction ------------------------------------------
    def tell_conflict(
        self,
        txn: StoreTxn,
        conflict: Conflict,
        now: datetime,
        by: str | None,
        notice: dict[str, Any] | None = None,
    ) -> list[Entry]:
        """Notify every party told of the conflict (create or revise); the ledger entries."""
        severity = conflict.severity if conflict.state is ConflictState.OPEN else Severity.INFO
        told = [
            self.tell(
                txn,
                party,
                Subject.CONFLICT,
                conflict.id,
                severity=severity,
                body=view,
                now=now,
                by=by,
                notice=notice,
                conflict_id=conflict.id,
                declaration_id=view["declaration_id"],
            )
            for party, view in conflict_recipients(conflict, txn.relay_parties())
        ]
        return [e for e in told if e is not None]

    def tell_release(
        self, txn: StoreTxn, decl: Declaration, now: datetime, by: str | None
    ) -> list[Entry]:
        """Notify each party a protected object is released to, again whenever it changes; a
        party it is no longer released to is told so, and nothing more of it."""
        if not decl.is_protected:
            return []
        told = [
            self.tell(
                txn,
                party,
                Subject.RELEASE,
                decl.id,
                severity=RELEASE_SEVERITY,
                body=decl.to_json(),
                now=now,
                by=by,
                notice=decl.notice,
            )
            for party in decl.released_to
            if party != decl.party
        ]
        told += [
            self.tell(
                txn,
                n.party,
                Subject.RELEASE,
                decl.id,
                severity=Severity.INFO,
                body={"id": decl.id, "withdrawn": True},
                now=now,
                by=by,
            )
            for n in txn.notifications_about(Subject.RELEASE, decl.id)
            if n.party not in decl.released_to
        ]
        return [e for e in told if e is not None]

    def tell_launch(
        self, txn: StoreTxn, decl: Declaration, now: datetime, by: str | None
    ) -> list[Entry]:
        """A launch notice warns every other party: its areas, window and notice (not its title,
        callsign or purpose), again whenever it changes; cancelled, it is information only."""
        if decl.kind is not Kind.LAUNCH_NOTICE:
            return []
        body = {
            "id": decl.id,
            "party": decl.party,
            "kind": str(decl.kind),
            "state": str(decl.state),
            "volumes": [v.to_json() for v in decl.volumes],
            "notice": decl.notice,
        }
        live = decl.state in (State.PLANNED, State.ACTIVE)
        told = [
            self.tell(
                txn,
                party.id,
                Subject.LAUNCH_NOTICE,
                decl.id,
                severity=LAUNCH_SEVERITY if live else Severity.INFO,
                body=body,
                now=now,
                by=by,
                notice=decl.notice,
            )
            for party in txn.list_parties()
            if party.id != decl.party
        ]
        return [e for e in told if e is not None]

    def tell(
        self,
        txn: StoreTxn,
        party: str,
        subject: Subject,
        subject_id: str,
        *,
        severity: Severity,
        body: dict[str, Any],
        now: datetime,
        by: str | None,
        notice: dict[str, Any] | None = None,
        **links: str,
    ) -> Entry | None:
        """Create or revise the party's notification about the subject; its ledger entry, or
        ``None`` when nothing it is told changed."""
        roster = self._roster(txn, party)
        notified = roster.on_shift(1, now)
        old = txn.notification_about(party, subject, subject_id)
        if old is None:
            n = new_notification(
                id=self._ids("ntf"),
                party=party,
                subject=subject,
                subject_id=subject_id,
                severity=severity,
                body=body,
                now=now,
                deadlines=self.deadlines,
                notified=notified,
                notice=notice,
                **links,
            )
            change = "created"
        else:
            n = revise(
                old,
                body=body,
                severity=severity,
                now=now,
                deadlines=self.deadlines,
                notified=notified,
                notice=notice,
            )
            if n is old:
                return None
            change = "revised"
        self._save(txn, n)
        return notification_entry(n, change, by)

    def _save(self, txn: StoreTxn, n: Notification) -> None:
        txn.save_notification(n)
        txn.add_event(n.party, "notification", n.to_json())

    @staticmethod
    def _roster(txn: StoreTxn, party: str) -> Roster:
        """The party's roster as it can be used now: a revoked principal is told nothing, so it
        is on no level."""
        roster = txn.get_roster(party)
        if roster is None:
            return Roster(party, ())
        active = {p.id for p in txn.list_principals(party) if p.revoked_at is None}
        return roster.only(active)

    # reading and acknowledging ------------------------------------------------------------
    def list_for(
        self, who: Principal, state: str | None, after: int, limit: int
    ) -> Page[dict[str, Any]]:
        """The caller's party's notifications; fetching them delivers the pending ones."""
        with self.store.read() as txn:
            page = txn.list_notifications(who.party, state, after, limit)
        pending = [n.id for n in page.items if n.state == "pending"]
        delivered = {n.id: n for n in self.deliver(who, pending, "fetch")}
        return Page([delivered.get(n.id, n).to_json() for n in page.items], page.next)

    def get(self, who: Principal, notification_id: str) -> Notification:
        with self.store.read() as txn:
            n = self._own(txn, who, notification_id)
        if n.state == "pending":
            (n,) = self.deliver(who, [n.id], "fetch") or [n]
        return n

    def deliver(self, who: Principal, ids: Sequence[str], via: str) -> list[Notification]:
        """Record that the caller's client received these notifications (first time only)."""
        if not ids:
            return []
        now = self._clock()
        done: list[Notification] = []
        with self.store.write() as txn:
            entries = []
            for notification_id in ids:
                n = txn.get_notification(notification_id)
                if n is None or n.party != who.party:
                    continue
                fresh = deliver(n, who.id, via, now)
                if fresh is not n:
                    self._save(txn, fresh)
                    entries.append(notification_entry(fresh, "delivered", who.id))
                done.append(fresh)
            self.ledger.append(txn, entries)
        return done

    def delivered_by(
        self, txn: StoreTxn, notification_id: str, version: int, via: str, now: datetime
    ) -> Entry | None:
        """Inside the caller's transaction: a party's system (not a principal) received
        ``version`` of the notification, e.g. its webhook answered 2xx. The ledger entry, if
        this delivered the current version."""
        n = txn.get_notification(notification_id)
        if n is None or n.version != version:
            return None
        fresh = deliver(n, via, via, now)
        if fresh is n:
            return None
        self._save(txn, fresh)
        return notification_entry(fresh, "delivered", None)

    def acknowledge(
        self, who: Principal, notification_id: str, version: int, raw: Any
    ) -> tuple[Notification, Receipt | None]:
        reply = parse_object(raw, "", {"reply"}, set()).get("reply")
        if reply is not None and not isinstance(reply, str):
            raise InvalidInput.one("/reply", "type", "a reply is text")
        if who.role not in ACKNOWLEDGING_ROLES:
            raise Forbidden(f"a {who.role} cannot acknowledge for the party")
        with self.store.write() as txn:
            n = self._own(txn, who, notification_id)
            if n.version != version:
                raise VersionMismatch(
                    f"the notification is at version {n.version}, not {version}: read the"
                    " new version before acknowledging it"
                )
            acked = acknowledge(n, who.id, reply, self._clock())
            self._save(txn, acked)
            receipt = self.ledger.append(txn, [notification_entry(acked, "acknowledged", who.id)])
        return acked, receipt

    @staticmethod
    def _own(txn: StoreTxn, who: Principal, notification_id: str) -> Notification:
        n = txn.get_notification(notification_id)
        if n is None or n.party != who.party:
            raise NotFound(f"no notification {notification_id!r}")
        return n

    # escalation ---------------------------------------------------------------------------
    def escalate_due(self) -> int:
        """One tick of the escalation driver: every notification past its deadline moves up a
        level (or reminds the top one), in one transaction with its events and ledger entries.
        Returns how many escalated."""
        now = self._clock()
        with self.store.read() as peek:  # most ticks find nothing: take no write lock for that
            if not peek.due_notifications(now, 1):
                return 0
        with self.store.write() as txn:
            entries: list[Entry] = []
            for n in txn.due_notifications(now, DUE_BATCH):
                roster = self._roster(txn, n.party)
                fresh, actions = escalate(
                    n,
                    now,
                    top=roster.top,
                    deadlines=self.deadlines,
                    on_shift=_shift_of(roster, now),
                )
                if not actions:
                    continue
                txn.save_notification(fresh)
                record = fresh.escalations[-1]
                txn.add_event(
                    n.party,
                    "escalation",
                    {"notification": fresh.to_json(), "escalation": record.to_json()},
                )
                entries.append(notification_entry(fresh, "escalated", None))
            self.ledger.append(txn, entries)
        return len(entries)

    # rosters ------------------------------------------------------------------------------
    def roster(self, who: Principal) -> dict[str, Any]:
        with self.store.read() as txn:
            roster = self._roster(txn, who.party)
        return {**roster.to_json(), "gaps": roster.gaps(self._clock())}

    def set_roster(self, who: Principal | None, party: str, raw: Any) -> Roster:
        """Replace a party's roster: its party admin over the API (``who``), or the operator."""
        if who is not None and (who.role is not Role.PARTY_ADMIN or who.party != party):
            raise Forbidden("only the party's admin may change its roster")
        roster = parse_roster(party, raw)
        with self.store.write() as txn:
            if txn.get_party(party) is None:
                raise NotFound(f"no party {party!r}")
            members = {p.id for p in txn.list_principals(party) if p.revoked_at is None}
            strangers = sorted(roster.principals() - members)
            if strangers:
                raise InvalidInput.one(
                    "/levels",
                    "unknown_principal",
                    f"not active principals of {party}: " + ", ".join(strangers),
                )
            txn.save_roster(roster)
            txn.add_event(party, "roster", roster.to_json())
        return roster
