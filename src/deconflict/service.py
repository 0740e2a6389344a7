"""The channel's application service: every use case, over the store interface.

Validation happens before the write lock is taken; candidate search, the exact test and the
writes of the declaration and its conflicts happen in one write transaction, so a declaration is
never accepted without the conflicts it has at that moment.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any

from deconflict.conflicts import Conflict, new_conflict, refresh_conflict
from deconflict.correspondence import Correspondence
from deconflict.declarations import Declaration, State, apply_patch, parse_new
from deconflict.detection import Finding, detect
from deconflict.disclosure import WRITER_ROLES, Role, can_amend, can_see, conflict_view
from deconflict.dispatch import Dispatch
from deconflict.errors import (
    AuthenticationRequired,
    FieldError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from deconflict.inbox import Inbox
from deconflict.indexing import index_boxes, query_boxes
from deconflict.ledger import (
    EVIDENCE_FORMAT,
    Entry,
    Ledger,
    Receipt,
    b64,
    declaration_entry,
    padded,
    party_entry,
    principal_entry,
)
from deconflict.merkle import stored_consistency_proof, stored_inclusion_proof
from deconflict.monitoring import Monitor
from deconflict.notice import NoticePolicy, assess
from deconflict.notifications import Deadlines
from deconflict.principals import Party, Principal, hash_token, new_token
from deconflict.purge import Purger
from deconflict.retention import RetentionPolicy
from deconflict.rules import RuleSet
from deconflict.sealing import SealedIds
from deconflict.store.base import ConflictQuery, DeclarationQuery, Page, Store, StoreTxn
from deconflict.surveillance import Surveillance, TrackPolicy
from deconflict.volumes import format_time

__all__ = ["Channel", "Outcome", "new_id", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """The prefix and 32 hex digits laid out as an RFC 9562 UUIDv7: 48 bits of Unix time in
    milliseconds, then 74 random bits. New ids sort after older ones, so new rows land at the
    end of every index keyed by id instead of on a random page (see docs/benchmarks.md)."""
    ms = time.time_ns() // 1_000_000
    rand = secrets.token_bytes(10)
    raw = ms.to_bytes(6) + bytes([0x70 | rand[0] & 0x0F, rand[1], 0x80 | rand[2] & 0x3F]) + rand[3:]
    return f"{prefix}_{raw.hex()}"


def _in_log(size: int, name: str, log_size: int) -> None:
    if not 1 <= size <= log_size:
        raise InvalidInput.one(
            name, "in_log", f"the log has {log_size} leaves; ask for 1..{log_size}"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """A declaration as written, its open conflicts as the caller sees them and the receipt
    of the write."""

    declaration: Declaration
    conflicts: list[dict[str, Any]]
    receipt: Receipt | None


class Channel:
    def __init__(
        self,
        store: Store,
        rules: RuleSet,
        ledger: Ledger,
        *,
        deadlines: Deadlines | None = None,
        notice_policy: NoticePolicy | None = None,
        line_test_times: Sequence[clock_time] = (),
        track_policy: TrackPolicy | None = None,
        retention: RetentionPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        ids: Callable[[str], str] = new_id,
    ) -> None:
        self.store = store
        self.rules = rules
        self.ledger = ledger
        self._clock = clock
        self._ids = ids
        self.notice_policy = notice_policy or NoticePolicy()
        self.inbox = Inbox(store, ledger, deadlines or Deadlines(), clock=clock, ids=ids)
        self.correspondence = Correspondence(store, ledger, self.inbox, clock=clock, ids=ids)
        self.monitor = Monitor(
            store, ledger, self.inbox, clock=clock, line_test_times=line_test_times
        )
        self.sealed = SealedIds.derived_from(ledger.signer.seed)
        """Event ids and list cursors as parties see them (:mod:`deconflict.sealing`)."""
        self.dispatch = Dispatch(store, ledger, self.inbox, self.sealed, clock=clock)
        self.surveillance = Surveillance(
            store, ledger, self.inbox, track_policy or TrackPolicy(), clock=clock, ids=ids
        )
        self.purger = Purger(store, ledger, retention or RetentionPolicy(), clock=clock)
        """Retention: what the app's retention driver runs every ``retention_tick_s``."""

    def tick(self) -> None:
        """What the clock does, once: escalate notifications past their deadline, expire
        requests past theirs, send due line tests. The app runs it every
        ``escalation_tick_s``."""
        self.inbox.escalate_due()
        self.correspondence.expire_due()
        self.monitor.tick()

    # principals ---------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationRequired("send a bearer token in the Authorization header")
        with self.store.read() as txn:
            principal = txn.principal_by_token(hash_token(token))
        if principal is None:
            raise AuthenticationRequired("the bearer token is unknown or revoked")
        self.monitor.seen(principal.party)
        return principal

    def add_party(self, party_id: str, name: str) -> Party:
        party = Party(party_id, name, self._clock())
        with self.store.write() as txn:
            if txn.get_party(party_id) is not None:
                raise InvalidInput.one("/id", "unique", f"party {party_id!r} exists already")
            txn.insert_party(party)
            self.ledger.append(txn, [party_entry(party, None)])
        return party

    def add_principal(self, party_id: str, name: str, role: Role) -> tuple[Principal, str]:
        token = new_token()
        principal = Principal(self._ids("prn"), party_id, name, role, self._clock())
        with self.store.write() as txn:
            if txn.get_party(party_id) is None:
                raise InvalidInput.one("/party", "unknown_party", f"no party {party_id!r}")
            txn.insert_principal(principal, hash_token(token))
            self.ledger.append(txn, [principal_entry(principal, principal.created_at, None)])
        return principal, token

    def revoke_principal(self, principal_id: str) -> None:
        now = self._clock()
        with self.store.write() as txn:
            if not txn.revoke_principal(principal_id, now):
                raise NotFound(f"no active principal {principal_id!r}")
            revoked = txn.get_principal(principal_id)
            if revoked is not None:
                self.ledger.append(txn, [principal_entry(revoked, now, None)])

    def list_parties(self) -> list[Party]:
        with self.store.read() as txn:
            return txn.list_parties()

    def list_principals(self, party_id: str | None = None) -> list[Principal]:
        with self.store.read() as txn:
            return txn.list_principals(party_id)

    # declarations -------------------------------------------------------------------------
    def declare(self, who: Principal, raw: Any) -> Outcome:
        self._require_writer(who)
        decl = parse_new(raw, id=self._ids("dcl"), party=who.party, now=self._clock())
        decl = self._noticed(decl)
        with self.store.write() as txn:
            self._check_references(txn, decl)
            conflicts, receipt = self._save_and_detect(txn, who, decl, None)
        return Outcome(decl, self._views(who, conflicts), receipt)

    def check(self, who: Principal, raw: Any) -> list[dict[str, Any]]:
        """The conflicts a declaration would have now; nothing is stored."""
        decl = parse_new(raw, id=self._ids("dcl"), party=who.party, now=self._clock())
        with self.store.read() as txn:
            self._check_references(txn, decl)
            findings = detect(decl, txn.candidates(query_boxes(decl, self.rules)), self.rules)
        now = self._clock()
        return self._views(who, [new_conflict(f, id="dry-run", now=now) for f in findings])

    def get_declaration(self, who: Principal, declaration_id: str) -> Declaration:
        with self.store.read() as txn:
            return self._visible(txn, who, declaration_id)

    def amend(self, who: Principal, declaration_id: str, version: int, raw: Any) -> Outcome:
        fields = set(raw) if isinstance(raw, dict) else set()
        with self.store.write() as txn:
            current = self._editable(txn, who, declaration_id, version, fields)
            decl = apply_patch(current, raw, now=self._clock())
            if decl.volumes != current.volumes or decl.emergency != current.emergency:
                decl = self._noticed(decl)  # a moved window is new notice
            self._check_references(txn, decl)
            conflicts, receipt = self._save_and_detect(txn, who, decl, current)
        return Outcome(decl, self._views(who, conflicts), receipt)

    def cancel(self, who: Principal, declaration_id: str, version: int) -> Outcome:
        with self.store.write() as txn:
            current = self._editable(txn, who, declaration_id, version, {"state"})
            if current.state is State.CANCELLED:
                raise IllegalTransition("the declaration is cancelled already")
            decl = apply_patch(current, {"state": "cancelled"}, now=self._clock())
            conflicts, receipt = self._save_and_detect(txn, who, decl, current)
        return Outcome(decl, self._views(who, conflicts), receipt)

    def list_declarations(self, who: Principal, query: DeclarationQuery) -> Page[Declaration]:
        with self.store.read() as txn:
            page = txn.list_declarations(who.viewer, query)
        # The query filters by need-to-know already; this keeps a store bug from leaking.
        return Page([d for d in page.items if can_see(who.viewer, d)], page.next)

    def declaration_conflicts(self, who: Principal, declaration_id: str) -> list[dict[str, Any]]:
        with self.store.read() as txn:
            self._visible(txn, who, declaration_id)
            return self._views(who, txn.conflicts_of(declaration_id))

    # conflicts ----------------------------------------------------------------------------
    def list_conflicts(self, who: Principal, query: ConflictQuery) -> Page[dict[str, Any]]:
        with self.store.read() as txn:
            if query.declaration_id is not None:
                self._visible(txn, who, query.declaration_id)
            page = txn.list_conflicts(who.viewer, query)
        views = self._views(who, page.items)
        if query.declaration_id is not None:
            views = [v for v in views if v["declaration_id"] == query.declaration_id]
        return Page(views, page.next)

    def get_conflict(self, who: Principal, conflict_id: str) -> dict[str, Any]:
        with self.store.read() as txn:
            conflict = txn.get_conflict(conflict_id)
        view = None if conflict is None else conflict_view(who.viewer, conflict)
        if view is None:
            raise NotFound(f"no conflict {conflict_id!r}")
        return view

    # ledger -------------------------------------------------------------------------------
    def checkpoint(self) -> str:
        """The latest signed checkpoint."""
        with self.store.read() as txn:
            note = txn.ledger_checkpoint()
        if note is None:
            raise NotFound("the ledger is empty")
        return note

    def inclusion(self, leaf_index: int, tree_size: int) -> list[bytes]:
        with self.store.read() as txn:
            _in_log(tree_size, "tree_size", txn.ledger_size())
            if not 0 <= leaf_index < tree_size:
                raise InvalidInput.one(
                    "leaf_index", "in_tree", f"leaf {leaf_index} is not in a tree of {tree_size}"
                )
            return stored_inclusion_proof(txn.ledger_node, leaf_index, tree_size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self.store.read() as txn:
            _in_log(second, "second", txn.ledger_size())
            if not 1 <= first <= second:
                raise InvalidInput.one(
                    "first", "in_tree", f"first must be between 1 and second ({second})"
                )
            return stored_consistency_proof(txn.ledger_node, first, second)

    def leaf(self, who: Principal, index: int) -> bytes:
        with self.store.read() as txn:
            found = txn.ledger_leaf(index)
        if found is None or not found[1].admits(who.viewer):
            raise NotFound(f"no leaf {index}")
        return found[0]

    def evidence(self, who: Principal, object_id: str) -> dict[str, Any]:
        """Every ledger entry about an object that the caller may read, each with its
        inclusion proof against the latest checkpoint: one self-contained file."""
        with self.store.read() as txn:
            note = txn.ledger_checkpoint()
            size = txn.ledger_size()
            entries = []
            for index in txn.ledger_about(object_id):
                found = txn.ledger_leaf(index)
                if found is not None and found[1].admits(who.viewer):
                    proof = stored_inclusion_proof(txn.ledger_node, index, size)
                    entries.append(
                        {
                            "leaf_index": index,
                            "leaf": b64(found[0]),
                            "inclusion": list(map(b64, proof)),
                        }
                    )
        if not entries or note is None:
            raise NotFound(f"no entries about {object_id!r}")
        return {
            "format": EVIDENCE_FORMAT,
            "subject": object_id,
            "exported_by": {"principal": who.id, "party": who.party},
            "exported_at": format_time(self._clock()),
            "verifier_key": self.ledger.signer.verifier.to_text(),
            "checkpoint": note,
            "entries": entries,
        }

    # internals ----------------------------------------------------------------------------
    def _noticed(self, decl: Declaration) -> Declaration:
        start = min(v.time.start for v in decl.volumes)
        notice = assess(decl.kind, decl.emergency, start, decl.updated_at, self.notice_policy)
        return dataclasses.replace(decl, notice=notice.to_json())

    @staticmethod
    def _require_writer(who: Principal) -> None:
        if who.role not in WRITER_ROLES:
            raise Forbidden(f"a {who.role} cannot declare")

    def _visible(self, txn: StoreTxn, who: Principal, declaration_id: str) -> Declaration:
        decl = txn.get_declaration(declaration_id)
        if decl is None or not can_see(who.viewer, decl):
            raise NotFound(f"no declaration {declaration_id!r}")
        return decl

    def _editable(
        self, txn: StoreTxn, who: Principal, declaration_id: str, version: int, fields: set[str]
    ) -> Declaration:
        current = self._visible(txn, who, declaration_id)
        if not can_amend(who.viewer, current, fields):
            raise Forbidden("you may not change this declaration")
        if current.version != version:
            raise VersionMismatch(
                f"the declaration is at version {current.version}, not {version}; re-read it"
            )
        return current

    @staticmethod
    def _check_references(txn: StoreTxn, decl: Declaration) -> None:
        errors = [
            FieldError(f"/released_to/{i}", "unknown_party", f"no party {p!r}")
            for i, p in enumerate(decl.released_to)
            if txn.get_party(p) is None
        ]
        if decl.controlling_party is not None and txn.get_party(decl.controlling_party) is None:
            errors.append(
                FieldError(
                    "/controlling_party", "unknown_party", f"no party {decl.controlling_party!r}"
                )
            )
        if errors:
            raise InvalidInput(errors)

    def _save_and_detect(
        self, txn: StoreTxn, who: Principal, decl: Declaration, previous: Declaration | None
    ) -> tuple[list[Conflict], Receipt | None]:
        """Store ``decl``, bring its conflicts up to date and record both in the ledger; return
        its open conflicts and the receipt of the declaration's entry."""
        now = self._clock()
        findings: list[Finding] = []
        if decl.detectable:
            candidates = txn.candidates(query_boxes(decl, self.rules))
            findings = detect(decl, candidates, self.rules)
        txn.save_declaration(decl, index_boxes(decl, self.rules) if decl.detectable else [])
        by_pair = {(f.a.id, f.b.id): f for f in findings}
        current: list[Conflict] = []
        changed: list[Conflict] = []
        for old in txn.conflicts_of(decl.id):
            pair = (old.a.declaration_id, old.b.declaration_id)
            fresh = refresh_conflict(old, by_pair.pop(pair, None), now=now)
            if fresh is not old:
                txn.save_conflict(fresh)
                changed.append(fresh)
            if fresh.state == "open":
                current.append(fresh)
        for (a_id, b_id), finding in by_pair.items():
            existing = txn.conflict_between(a_id, b_id)
            conflict = (
                new_conflict(finding, id=self._ids("cfl"), now=now)
                if existing is None
                else refresh_conflict(existing, finding, now=now)
            )
            txn.save_conflict(conflict)
            changed.append(conflict)
            current.append(conflict)
        entries = [declaration_entry(decl, previous, decl.updated_at, who.id)]
        entries += self.inbox.tell_release(txn, decl, now, who.id)
        entries += self.inbox.tell_launch(txn, decl, now, who.id)
        hidden: list[Entry] = []
        for conflict in changed:
            told = conflict_view(who.viewer, conflict) is not None
            (entries if told else hidden).extend(
                self.inbox.tell_conflict(txn, conflict, now, who.id, decl.notice)
            )
        return current, self.ledger.append(txn, entries + padded(hidden, now))

    @staticmethod
    def _views(who: Principal, conflicts: Sequence[Conflict]) -> list[dict[str, Any]]:
        return [v for c in conflicts if (v := conflict_view(who.viewer, c)) is not None]
