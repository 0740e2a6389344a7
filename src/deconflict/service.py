"""The channel's application service: every use case, over the store interface.

Validation happens before the write lock is taken; candidate search, the exact test and the
writes of the declaration and its conflicts happen in one write transaction, so a declaration is
never accepted without the conflicts it has at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deconflict.conflicts import Conflict, new_conflict, refresh_conflict
from deconflict.declarations import Declaration, State, apply_patch, parse_new
from deconflict.detection import Finding, detect
from deconflict.disclosure import WRITER_ROLES, Role, can_amend, can_see, conflict_view
from deconflict.errors import (
    AuthenticationRequired,
    FieldError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from deconflict.indexing import index_boxes, query_boxes
from deconflict.principals import Party, Principal, hash_token, new_token
from deconflict.rules import RuleSet
from deconflict.store.base import ConflictQuery, DeclarationQuery, Page, Store, StoreTxn

__all__ = ["Channel", "Outcome", "new_id", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A declaration as written and its open conflicts as the caller sees them."""

    declaration: Declaration
    conflicts: list[dict[str, Any]]


class Channel:
    def __init__(
        self,
        store: Store,
        rules: RuleSet,
        *,
        clock: Callable[[], datetime] = utc_now,
        ids: Callable[[str], str] = new_id,
    ) -> None:
        self.store = store
        self.rules = rules
        self._clock = clock
        self._ids = ids

    # principals ---------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationRequired("send a bearer token in the Authorization header")
        with self.store.read() as txn:
            principal = txn.principal_by_token(hash_token(token))
        if principal is None:
            raise AuthenticationRequired("the bearer token is unknown or revoked")
        return principal

    def add_party(self, party_id: str, name: str) -> Party:
        party = Party(party_id, name, self._clock())
        with self.store.write() as txn:
            if txn.get_party(party_id) is not None:
                raise InvalidInput.one("/id", "unique", f"party {party_id!r} exists already")
            txn.insert_party(party)
        return party

    def add_principal(self, party_id: str, name: str, role: Role) -> tuple[Principal, str]:
        token = new_token()
        principal = Principal(self._ids("prn"), party_id, name, role, self._clock())
        with self.store.write() as txn:
            if txn.get_party(party_id) is None:
                raise InvalidInput.one("/party", "unknown_party", f"no party {party_id!r}")
            txn.insert_principal(principal, hash_token(token))
        return principal, token

    def revoke_principal(self, principal_id: str) -> None:
        with self.store.write() as txn:
            if not txn.revoke_principal(principal_id, self._clock()):
                raise NotFound(f"no active principal {principal_id!r}")

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
        with self.store.write() as txn:
            self._check_references(txn, decl)
            conflicts = self._save_and_detect(txn, decl)
        return Outcome(decl, self._views(who, conflicts))

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
            self._check_references(txn, decl)
            conflicts = self._save_and_detect(txn, decl)
        return Outcome(decl, self._views(who, conflicts))

    def cancel(self, who: Principal, declaration_id: str, version: int) -> Outcome:
        with self.store.write() as txn:
            current = self._editable(txn, who, declaration_id, version, {"state"})
            if current.state is State.CANCELLED:
                raise IllegalTransition("the declaration is cancelled already")
            decl = apply_patch(current, {"state": "cancelled"}, now=self._clock())
            conflicts = self._save_and_detect(txn, decl)
        return Outcome(decl, self._views(who, conflicts))

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

    # internals ----------------------------------------------------------------------------
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

    def _save_and_detect(self, txn: StoreTxn, decl: Declaration) -> list[Conflict]:
        """Store ``decl`` and bring its conflicts up to date; return its open conflicts."""
        now = self._clock()
        findings: list[Finding] = []
        if decl.detectable:
            candidates = txn.candidates(query_boxes(decl, self.rules))
            findings = detect(decl, candidates, self.rules)
        txn.save_declaration(decl, index_boxes(decl, self.rules) if decl.detectable else [])
        by_pair = {(f.a.id, f.b.id): f for f in findings}
        current: list[Conflict] = []
        for old in txn.conflicts_of(decl.id):
            pair = (old.a.declaration_id, old.b.declaration_id)
            fresh = refresh_conflict(old, by_pair.pop(pair, None), now=now)
            if fresh is not old:
                txn.save_conflict(fresh)
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
            current.append(conflict)
        return current

    @staticmethod
    def _views(who: Principal, conflicts: Sequence[Conflict]) -> list[dict[str, Any]]:
        return [v for c in conflicts if (v := conflict_view(who.viewer, c)) is not None]
