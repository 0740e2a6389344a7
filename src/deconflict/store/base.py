"""The store interface that every backend implements.

A write transaction is serialised with every other write (SQLite: one writer and
``BEGIN IMMEDIATE``); detection reads candidates and writes conflicts inside it, so two
overlapping declarations can never both be accepted without their conflict being recorded.
When :meth:`Store.write` returns, the transaction is durable on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from deconflict.conflicts import Conflict
from deconflict.declarations import Declaration
from deconflict.disclosure import Viewer
from deconflict.health import Suspension
from deconflict.incidents import Incident
from deconflict.indexing import Box
from deconflict.ledger import Audience, LedgerTxn
from deconflict.messages import Message
from deconflict.notifications import Notification
from deconflict.permission_requests import PermissionRequest
from deconflict.principals import Party, Principal
from deconflict.retention import Purged
from deconflict.rosters import Roster
from deconflict.track_alerts import OpenEncounter
from deconflict.tracks import Track
from deconflict.webhooks import Failure, Webhook

__all__ = ["ConflictQuery", "DeclarationQuery", "Page", "Store", "StoreTxn"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: int | None
    """Sequence number to continue after, or ``None`` on the last page."""


@dataclass(frozen=True, slots=True)
class DeclarationQuery:
    after: int = 0
    limit: int = 100
    kind: str | None = None
    state: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    """west, south, east, north; west > east crosses the antimeridian"""


@dataclass(frozen=True, slots=True)
class ConflictQuery:
    after: int = 0
    limit: int = 100
    state: str | None = None
    declaration_id: str | None = None


class StoreTxn(LedgerTxn, Protocol):
    def get_party(self, party_id: str) -> Party | None: ...
    def list_parties(self) -> list[Party]: ...
    def insert_party(self, party: Party) -> None: ...
    def insert_principal(self, principal: Principal, token_hash: bytes) -> None: ...
    def principal_by_token(self, token_hash: bytes) -> Principal | None: ...
    def get_principal(self, principal_id: str) -> Principal | None: ...
    def list_principals(self, party_id: str | None) -> list[Principal]: ...
    def revoke_principal(self, principal_id: str, when: datetime) -> bool: ...

    def get_declaration(self, declaration_id: str) -> Declaration | None: ...
    def save_declaration(self, decl: Declaration, index: Sequence[Box]) -> None:
        """Insert or replace; ``index`` replaces the declaration's candidate boxes (empty for a
        declaration that no longer takes part in detection)."""

    def candidates(self, boxes: Sequence[Box]) -> list[Declaration]: ...
    def list_declarations(self, viewer: Viewer, query: DeclarationQuery) -> Page[Declaration]: ...
    def count_declarations(self) -> int: ...
    def declaration_bodies(self) -> list[tuple[str, int, str]]:
        """(id, version, JSON body) of every declaration as served and of every stored version,
        for auditing against the ledger."""

    def all_conflicts(self) -> list[Conflict]: ...

    def get_conflict(self, conflict_id: str) -> Conflict | None: ...
    def conflicts_of(self, declaration_id: str) -> list[Conflict]:
        """Open conflicts that involve the declaration."""

    def conflict_between(self, a_id: str, b_id: str) -> Conflict | None: ...
    def save_conflict(self, conflict: Conflict) -> None: ...
    def list_conflicts(self, viewer: Viewer, query: ConflictQuery) -> Page[Conflict]: ...

    def get_notification(self, notification_id: str) -> Notification | None: ...
    def notification_about(self, party: str, subject: str, subject_id: str) -> Notification | None:
        """The one notification of a party about a subject."""

    def notifications_about(self, subject: str, subject_id: str) -> list[Notification]: ...
    def save_notification(self, n: Notification) -> None: ...
    def list_notifications(
        self, party: str, state: str | None, after: int, limit: int
    ) -> Page[Notification]: ...
    def all_notifications(self) -> list[Notification]: ...
    def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Unacknowledged notifications whose deadline is at or before ``now``, oldest first."""

    def add_event(self, party: str, kind: str, data: dict[str, Any]) -> int:
        """Append to the party's live stream; the event's id (increasing, never reused)."""

    def events_after(self, party: str, after: int, limit: int) -> list[tuple[int, str, str]]: ...
    def last_event_id(self) -> int: ...
    def get_roster(self, party: str) -> Roster | None: ...
    def save_roster(self, roster: Roster) -> None: ...
    def relay_parties(self) -> list[str]:
        """Parties with an active relay principal: told of every conflict with a protected
        object."""

    def get_incident(self, incident_id: str) -> Incident | None: ...
    def save_incident(self, incident: Incident) -> None: ...
    def list_incidents(self, viewer: Viewer, after: int, limit: int) -> Page[Incident]:
        """Reports by the viewer's party or naming it; every report for the relay."""

    def get_request(self, request_id: str) -> PermissionRequest | None: ...
    def save_request(self, r: PermissionRequest) -> None: ...
    def list_requests(self, party: str, after: int, limit: int) -> Page[PermissionRequest]: ...
    def due_requests(self, now: datetime, limit: int) -> list[PermissionRequest]: ...
    def get_message(self, message_id: str) -> Message | None: ...
    def save_message(self, m: Message) -> None: ...
    def list_messages(self, party: str, after: int, limit: int) -> Page[Message]: ...

    def get_webhook(self, party: str) -> Webhook | None: ...
    def save_webhook(self, w: Webhook) -> None: ...
    def delete_webhook(self, party: str) -> bool: ...
    def webhooks_due(self, now: datetime) -> list[Webhook]:
        """Webhooks with an event after their cursor and no retry wait pending."""

    def add_webhook_failure(self, party: str, failure: Failure) -> None: ...
    def webhook_failures(self, party: str, limit: int) -> list[Failure]: ...

    def suspensions(self) -> dict[str, Suspension]: ...
    def save_suspension(self, s: Suspension) -> None: ...
    def delete_suspension(self, party: str) -> bool: ...
    def last_seen(self) -> dict[str, datetime]: ...
    def save_seen(self, seen: dict[str, datetime]) -> None:
        """Record when parties were seen (a later time than the stored one wins)."""

    def line_tests(self) -> dict[str, datetime]: ...
    def save_line_test(self, party: str, scheduled_for: datetime) -> None: ...

    def save_tracks(self, tracks: Iterable[Track]) -> None:
        """Keep each aircraft's latest report; an older report than the stored one is ignored."""

    def party_tracks(self, party: str) -> list[Track]: ...
    def tracks_since(self, since: datetime) -> list[Track]: ...
    def purge_tracks(self, before: datetime) -> int:
        """Forget reports older than ``before``; how many."""

    def oldest_track_before(self, before: datetime) -> bool:
        """Whether any report is older than ``before``."""

    def track_declarations(self, since: datetime, until: datetime) -> list[Declaration]:
        """Declarations whose window meets [since, until], whatever their state: the zones and
        volumes a detection cycle checks tracks against."""

    def open_encounters(self) -> dict[tuple[str, ...], OpenEncounter]: ...
    def save_encounters(self, encounters: Iterable[OpenEncounter]) -> None:
        """Replace the open encounters."""

    def declarations_done_before(self, before: datetime, limit: int) -> list[str]:
        """Ids of declarations done (:func:`deconflict.retention.done_at`) at or before
        ``before``, the longest done first."""

    def purge_declarations(self, ids: Sequence[str]) -> Purged:
        """Delete the declarations with every stored version; the conflicts left with none of
        their declarations; the notifications about either. Never a ledger row."""

    def mark_events(self, at: datetime) -> None:
        """Note the event log's newest id at ``at``: how events' ages are known."""

    def purge_events(self, before: datetime, limit: int) -> int:
        """Delete up to about ``limit`` events older than ``before`` that the party's webhook
        (if any) has delivered; how many."""

    def events_purged_through(self, party: str) -> int:
        """The newest of the party's events that retention purged; 0 for none."""

    def ledger_checkpoint(self) -> str | None:
        """The latest signed checkpoint."""

    def ledger_checkpoints(self) -> list[str]:
        """Every signed checkpoint, by tree size."""

    def ledger_leaf(self, index: int) -> tuple[bytes, Audience] | None: ...
    def ledger_leaves(self, start: int, end: int) -> list[tuple[int, bytes]]: ...
    def ledger_leaf_hashes(self, start: int, end: int) -> dict[int, bytes]: ...
    def ledger_about(self, object_id: str) -> list[int]:
        """Indexes of the leaves about an object, in order."""


class Store(Protocol):
    def write(self) -> AbstractContextManager[StoreTxn]: ...
    def read(self) -> AbstractContextManager[StoreTxn]: ...
    def close(self) -> None: ...
    def applied_migrations(self) -> list[str]:
        """Names of the schema migrations applied, in order."""

    def leads(self) -> bool:
        """Whether this process runs the background drivers (escalation, detection cycles,
        webhooks, retention): exactly one process over a database does at any time."""
