"""The channel's tables in SQLite: notifications, the per-party event log behind the live
stream, and rosters. Written in the same transaction as the data they are about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from deconflict.notifications import Notification, NotificationState
from deconflict.notifications import from_json as notification_from_json
from deconflict.rosters import Roster, parse_roster
from deconflict.store.base import Page
from deconflict.store.sql import SqlConnection
from deconflict.webhooks import Failure, Webhook

__all__ = ["ChannelTables"]


def _webhook(row: Any) -> Webhook:
    nxt = row["next_attempt"]
    return Webhook(
        party=row["party"],
        url=row["url"],
        secret=bytes(row["secret"]),
        cursor=int(row["cursor"]),
        attempts=int(row["attempts"]),
        next_attempt_at=None if nxt is None else datetime.fromtimestamp(nxt, UTC),
        last_error=row["last_error"],
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class ChannelTables:
    """Channel operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    # notifications
    def get_notification(self, notification_id: str) -> Notification | None:
        row = self._c.execute(
            "SELECT body FROM notifications WHERE id = ?", (notification_id,)
        ).fetchone()
        return None if row is None else notification_from_json(json.loads(row[0]))

    def notification_about(self, party: str, subject: str, subject_id: str) -> Notification | None:
        row = self._c.execute(
            "SELECT body FROM notifications WHERE party = ? AND subject = ? AND subject_id = ?",
            (party, subject, subject_id),
        ).fetchone()
        return None if row is None else notification_from_json(json.loads(row[0]))

    def notifications_about(self, subject: str, subject_id: str) -> list[Notification]:
        """Every party's notification about a subject."""
        rows = self._c.execute(
            "SELECT body FROM notifications WHERE subject = ? AND subject_id = ? ORDER BY seq",
            (subject, subject_id),
        ).fetchall()
        return [notification_from_json(json.loads(r[0])) for r in rows]

    def save_notification(self, n: Notification) -> None:
        # Only an unacknowledged notification with a deadline is ever due.
        due = (
            n.deadline.timestamp()
            if n.deadline is not None and n.state is not NotificationState.ACKNOWLEDGED
            else None
        )
        self._c.execute(
            "INSERT INTO notifications (id, party, subject, subject_id, state, deadline, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
            " deadline = excluded.deadline, body = excluded.body",
            (n.id, n.party, str(n.subject), n.subject_id, str(n.state), due, _dumps(n.to_json())),
        )

    def list_notifications(
        self, party: str, state: str | None, after: int, limit: int
    ) -> Page[Notification]:
        rows = (
            self._c.execute(
                "SELECT seq, body FROM notifications WHERE party = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (party, after, limit + 1),
            )
            if state is None
            else self._c.execute(
                "SELECT seq, body FROM notifications WHERE party = ? AND seq > ? AND state = ?"
                " ORDER BY seq LIMIT ?",
                (party, after, state, limit + 1),
            )
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [notification_from_json(json.loads(r[1])) for r in rows]
        return Page(items, rows[-1][0] if more and rows else None)

    def all_notifications(self) -> list[Notification]:
        rows = self._c.execute("SELECT body FROM notifications ORDER BY seq").fetchall()
        return [notification_from_json(json.loads(r[0])) for r in rows]

    def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        rows = self._c.execute(
            "SELECT body FROM notifications WHERE deadline IS NOT NULL AND deadline <= ?"
            " ORDER BY deadline LIMIT ?",
            (now.timestamp(), limit),
        ).fetchall()
        return [notification_from_json(json.loads(r[0])) for r in rows]

    # events
    def add_event(self, party: str, kind: str, data: dict[str, Any]) -> int:
        cur = self._c.execute(
            "INSERT INTO events (party, type, data) VALUES (?, ?, ?) RETURNING seq",
            (party, kind, _dumps(data)),
        )
        return int(cur.fetchone()[0])

    def events_after(self, party: str, after: int, limit: int) -> list[tuple[int, str, str]]:
        """(id, type, JSON data) of the party's events after ``after``, oldest first."""
        rows = self._c.execute(
            "SELECT seq, type, data FROM events WHERE party = ? AND seq > ? ORDER BY seq LIMIT ?",
            (party, after, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def last_event_id(self) -> int:
        row = self._c.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    # rosters
    def get_roster(self, party: str) -> Roster | None:
        row = self._c.execute("SELECT body FROM rosters WHERE party = ?", (party,)).fetchone()
        if row is None:
            return None
        raw = json.loads(row[0])
        return parse_roster(party, {"levels": raw["levels"]})

    def save_roster(self, roster: Roster) -> None:
        body = roster.to_json()
        for level in body["levels"]:
            del level["level"]
        self._c.execute(
            "INSERT INTO rosters VALUES (?, ?)"
            " ON CONFLICT (party) DO UPDATE SET body = excluded.body",
            (roster.party, _dumps(body)),
        )

    def relay_parties(self) -> list[str]:
        rows = self._c.execute(
            "SELECT DISTINCT party_id FROM principals WHERE role = 'relay' AND revoked_at IS NULL"
            " ORDER BY party_id"
        ).fetchall()
        return [str(r[0]) for r in rows]

    # webhooks
    def get_webhook(self, party: str) -> Webhook | None:
        row = self._c.execute("SELECT * FROM webhooks WHERE party = ?", (party,)).fetchone()
        return None if row is None else _webhook(row)

    def save_webhook(self, w: Webhook) -> None:
        self._c.execute(
            "INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (party) DO UPDATE SET"
            " url = excluded.url, secret = excluded.secret, cursor = excluded.cursor,"
            " attempts = excluded.attempts, next_attempt = excluded.next_attempt,"
            " last_error = excluded.last_error",
            (
                w.party,
                w.url,
                w.secret,
                w.cursor,
                w.attempts,
                None if w.next_attempt_at is None else w.next_attempt_at.timestamp(),
                w.last_error,
            ),
        )

    def delete_webhook(self, party: str) -> bool:
        return self._c.execute("DELETE FROM webhooks WHERE party = ?", (party,)).rowcount == 1

    def webhooks_due(self, now: datetime) -> list[Webhook]:
        """Webhooks with an event after their cursor and no retry wait pending."""
        rows = self._c.execute(
            "SELECT w.* FROM webhooks w WHERE (w.next_attempt IS NULL OR w.next_attempt <= ?)"
            " AND EXISTS (SELECT 1 FROM events e WHERE e.party = w.party AND e.seq > w.cursor)",
            (now.timestamp(),),
        ).fetchall()
        return [_webhook(r) for r in rows]

    def add_webhook_failure(self, party: str, failure: Failure) -> None:
        self._c.execute(
            "INSERT INTO webhook_failures (party, event_id, at, status, error)"
            " VALUES (?, ?, ?, ?, ?)",
            (party, failure.event_id, failure.at.timestamp(), failure.status, failure.error),
        )

    def webhook_failures(self, party: str, limit: int) -> list[Failure]:
        """The party's latest delivery failures, newest first."""
        rows = self._c.execute(
            "SELECT event_id, at, status, error FROM webhook_failures WHERE party = ?"
            " ORDER BY seq DESC LIMIT ?",
            (party, limit),
        ).fetchall()
        return [
            Failure(int(r[0]), datetime.fromtimestamp(r[1], UTC), r[2], str(r[3])) for r in rows
        ]
