"""The channel's correspondence between parties: incident reports with the right of reply,
permission requests, and messages. Each is one write transaction with the notifications it
raises (:mod:`deconflict.inbox`) and its ledger entries, readable by the parties concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from deconflict.disclosure import WRITER_ROLES, Role, Viewer, can_see
from deconflict.errors import FieldError, Forbidden, InvalidInput, NotFound, VersionMismatch
from deconflict.inbox import Inbox
from deconflict.incidents import Incident, IncidentKind, add_reply, parse_incident
from deconflict.ledger import Audience, Entry, Ledger, Receipt
from deconflict.messages import Message, parse_message, parse_text
from deconflict.notifications import Subject
from deconflict.permission_requests import PermissionRequest, answer, expire, parse_request
from deconflict.principals import Principal
from deconflict.rules import Severity
from deconflict.store.base import Page, Store, StoreTxn

__all__ = ["Correspondence"]

DUE_BATCH = 500
_SEVERITY = {IncidentKind.STRIKE_ON_PROTECTED_OBJECT: Severity.CRITICAL}
"""Incidents are high, a strike on a protected object critical."""


def _entry(
    kind: str,
    obj: dict[str, Any],
    *,
    subjects: Sequence[str],
    parties: Sequence[str],
    at: datetime,
    by: str | None,
    relay: bool = False,
) -> Entry:
    return Entry(
        kind, obj, tuple(dict.fromkeys(subjects)), Audience(frozenset(parties), relay), at, by
    )


class Correspondence:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        inbox: Inbox,
        *,
        clock: Callable[[], datetime],
        ids: Callable[[str], str],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.inbox = inbox
        self._clock = clock
        self._ids = ids

    @staticmethod
    def _writer(who: Principal) -> None:
        if who.role not in WRITER_ROLES:
            raise Forbidden(f"a {who.role} cannot write to other parties")

    @staticmethod
    def _parties_exist(txn: StoreTxn, parties: Mapping[str, str]) -> None:
        """Every party named exists; ``parties`` maps each one's JSON Pointer to its id."""
        errors = [
            FieldError(pointer, "unknown_party", f"no party {p!r}")
            for pointer, p in parties.items()
            if txn.get_party(p) is None
        ]
        if errors:
            raise InvalidInput(errors)

    # incidents ----------------------------------------------------------------------------
    def report(self, who: Principal, raw: Any) -> tuple[Incident, Receipt | None]:
        self._writer(who)
        now = self._clock()
        incident = parse_incident(
            raw, id=self._ids("inc"), party=who.party, principal=who.id, now=now
        )
        with self.store.write() as txn:
            self._parties_exist(txn, {f"/parties/{i}": p for i, p in enumerate(incident.parties)})
            for i, decl_id in enumerate(incident.declaration_ids):
                decl = txn.get_declaration(decl_id)
                if decl is None or not can_see(who.viewer, decl):
                    raise InvalidInput.one(
                        f"/declaration_ids/{i}",
                        "unknown_declaration",
                        f"no declaration {decl_id!r}",
                    )
            txn.save_incident(incident)
            entries = [self._incident_entry(incident, "incident.reported", who.id)]
            entries += self._tell_incident(txn, incident, now, who)
            receipt = self.ledger.append(txn, entries)
        return incident, receipt

    def reply(self, who: Principal, incident_id: str, raw: Any) -> tuple[Incident, Receipt | None]:
        self._writer(who)
        now = self._clock()
        with self.store.write() as txn:
            incident = self._incident(txn, who, incident_id)
            replied = add_reply(incident, who.party, who.id, raw, now)
            txn.save_incident(replied)
            entries = [self._incident_entry(replied, "incident.replied", who.id)]
            entries += self._tell_incident(txn, replied, now, who)
            receipt = self.ledger.append(txn, entries)
        return replied, receipt

    def incident(self, who: Principal, incident_id: str) -> Incident:
        with self.store.read() as txn:
            return self._incident(txn, who, incident_id)

    def incidents(self, who: Principal, after: int, limit: int) -> Page[Incident]:
        with self.store.read() as txn:
            return txn.list_incidents(self._relay_viewer(txn, who), after, limit)

    @staticmethod
    def _relay_viewer(txn: StoreTxn, who: Principal) -> Viewer:
        """Incidents go to the relay's parties, as their notifications do: every principal of
        such a party reads them, as the relay does."""
        if who.viewer.relay or who.party in txn.relay_parties():
            return Viewer(who.party, Role.RELAY)
        return who.viewer

    def _incident(self, txn: StoreTxn, who: Principal, incident_id: str) -> Incident:
        incident = txn.get_incident(incident_id)
        viewer = self._relay_viewer(txn, who)
        if incident is None or not (
            who.party == incident.party or who.party in incident.parties or viewer.relay
        ):
            raise NotFound(f"no incident {incident_id!r}")
        return incident

    @staticmethod
    def _incident_entry(incident: Incident, kind: str, by: str) -> Entry:
        return _entry(
            kind,
            incident.to_json(),
            subjects=(incident.id, *incident.declaration_ids),
            parties=(incident.party, *incident.parties),
            at=incident.reported_at if kind == "incident.reported" else incident.replies[-1].at,
            by=by,
            relay=True,
        )

    def _tell_incident(
        self, txn: StoreTxn, incident: Incident, now: datetime, who: Principal
    ) -> list[Entry]:
        """Everyone concerned but the writer's party: the reporter, the named parties and the
        relay's parties."""
        severity = _SEVERITY.get(incident.kind, Severity.HIGH)
        told = dict.fromkeys((incident.party, *incident.parties, *txn.relay_parties()))
        entries = [
            self.inbox.tell(
                txn,
                party,
                Subject.INCIDENT,
                incident.id,
                severity=severity,
                body=incident.to_json(),
                now=now,
                by=who.id,
            )
            for party in told
            if party != who.party
        ]
        return [e for e in entries if e is not None]

    # requests -----------------------------------------------------------------------------
    def ask(self, who: Principal, raw: Any) -> tuple[PermissionRequest, Receipt | None]:
        self._writer(who)
        now = self._clock()
        r = parse_request(raw, id=self._ids("req"), party=who.party, principal=who.id, now=now)
        with self.store.write() as txn:
            self._parties_exist(txn, {"/to": r.to})
            if r.declaration_id is not None:
                decl = txn.get_declaration(r.declaration_id)
                if decl is None or decl.party != who.party:
                    raise InvalidInput.one(
                        "/declaration_id", "unknown_declaration", "not a declaration of yours"
                    )
            txn.save_request(r)
            receipt = self.ledger.append(txn, self._request_news(txn, r, "request.made", who.id))
        return r, receipt

    def answer(
        self, who: Principal, request_id: str, version: int, raw: Any
    ) -> tuple[PermissionRequest, Receipt | None]:
        self._writer(who)
        if not isinstance(raw, dict) or set(raw) - {"decision", "text"} or "decision" not in raw:
            raise InvalidInput.one("", "type", 'an answer is {"decision": "approve" | "deny"}')
        text = None if raw.get("text") is None else parse_text(raw["text"], "/text")
        with self.store.write() as txn:
            r = self._request(txn, who, request_id)
            if r.to != who.party:
                raise Forbidden("only the party asked may answer")
            if r.version != version:
                raise VersionMismatch(f"the request is at version {r.version}, not {version}")
            answered = answer(r, who.id, raw["decision"], text, self._clock())
            txn.save_request(answered)
            entries = self._request_news(txn, answered, "request.answered", who.id)
            receipt = self.ledger.append(txn, entries)
        return answered, receipt

    def expire_due(self) -> int:
        """One tick: requests past their deadline unanswered expire; both parties are told."""
        now = self._clock()
        with self.store.read() as peek:  # most ticks find nothing: take no write lock for that
            if not peek.due_requests(now, 1):
                return 0
        with self.store.write() as txn:
            entries: list[Entry] = []
            count = 0
            for r in txn.due_requests(now, DUE_BATCH):
                expired = expire(r, now)
                txn.save_request(expired)
                entries += self._request_news(txn, expired, "request.expired", None)
                count += 1
            self.ledger.append(txn, entries)
        return count

    def request(self, who: Principal, request_id: str) -> PermissionRequest:
        with self.store.read() as txn:
            return self._request(txn, who, request_id)

    def requests(self, who: Principal, after: int, limit: int) -> Page[PermissionRequest]:
        with self.store.read() as txn:
            return txn.list_requests(who.party, after, limit)

    @staticmethod
    def _request(txn: StoreTxn, who: Principal, request_id: str) -> PermissionRequest:
        r = txn.get_request(request_id)
        if r is None or who.party not in (r.party, r.to):
            raise NotFound(f"no request {request_id!r}")
        return r

    def _request_news(
        self, txn: StoreTxn, r: PermissionRequest, kind: str, by: str | None
    ) -> list[Entry]:
        """The ledger entry of the change, and the notification of the party that must act or
        learn: the party asked when asked, the asking party when answered or expired."""
        at = r.created_at if kind == "request.made" else (r.answered_at or r.created_at)
        entries = [
            _entry(kind, r.to_json(), subjects=(r.id,), parties=(r.party, r.to), at=at, by=by)
        ]
        party = r.to if kind == "request.made" else r.party
        told = self.inbox.tell(
            txn,
            party,
            Subject.REQUEST,
            r.id,
            severity=Severity.HIGH,
            body=r.to_json(),
            now=at,
            by=by,
        )
        return entries + ([told] if told is not None else [])

    # messages -----------------------------------------------------------------------------
    def send(self, who: Principal, raw: Any) -> tuple[Message, Receipt | None]:
        self._writer(who)
        now = self._clock()
        m = parse_message(raw, id=self._ids("msg"), party=who.party, principal=who.id, now=now)
        with self.store.write() as txn:
            self._parties_exist(txn, {"/to": m.to})
            txn.save_message(m)
            sent = _entry(
                "message.sent",
                m.to_json(),
                subjects=(m.id,),
                parties=(m.party, m.to),
                at=now,
                by=who.id,
            )
            entries = [sent]
            told = self.inbox.tell(
                txn,
                m.to,
                Subject.MESSAGE,
                m.id,
                severity=Severity.MEDIUM,
                body=m.to_json(),
                now=now,
                by=who.id,
            )
            receipt = self.ledger.append(txn, entries + ([told] if told is not None else []))
        return m, receipt

    def message(self, who: Principal, message_id: str) -> Message:
        with self.store.read() as txn:
            m = txn.get_message(message_id)
        if m is None or who.party not in (m.party, m.to):
            raise NotFound(f"no message {message_id!r}")
        return m

    def messages(self, who: Principal, after: int, limit: int) -> Page[Message]:
        with self.store.read() as txn:
            return txn.list_messages(who.party, after, limit)
