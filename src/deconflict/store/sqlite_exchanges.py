"""Incident reports, permission requests and messages in SQLite: each record as JSON, with
the columns that need-to-know and the expiry driver query."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deconflict.disclosure import Viewer
from deconflict.incidents import Incident, incident_from_json
from deconflict.messages import Message, message_from_json
from deconflict.permission_requests import PermissionRequest, request_from_json
from deconflict.store.base import Page
from deconflict.store.sql import SqlConnection

__all__ = ["ExchangeTables"]


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _page(rows: list[Any], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return [json.loads(r[1]) for r in rows], (rows[-1][0] if more and rows else None)


class ExchangeTables:
    """Exchange operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    # incidents
    def get_incident(self, incident_id: str) -> Incident | None:
        row = self._c.execute("SELECT body FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else incident_from_json(json.loads(row[0]))

    def save_incident(self, incident: Incident) -> None:
        body = _dumps(incident.to_json())
        row = self._c.execute("SELECT seq FROM incidents WHERE id = ?", (incident.id,)).fetchone()
        if row is not None:
            self._c.execute("UPDATE incidents SET body = ? WHERE seq = ?", (body, row[0]))
            return
        seq = self._c.execute(
            "INSERT INTO incidents (id, party, body) VALUES (?, ?, ?) RETURNING seq",
            (incident.id, incident.party, body),
        ).fetchone()[0]
        self._c.executemany(
            "INSERT INTO incident_parties VALUES (?, ?)", [(seq, p) for p in incident.parties]
        )

    def list_incidents(self, viewer: Viewer, after: int, limit: int) -> Page[Incident]:
        rows = self._c.execute(
            "SELECT i.seq, i.body FROM incidents i WHERE i.seq > :after AND (i.party = :party"
            " OR :relay OR EXISTS (SELECT 1 FROM incident_parties p WHERE p.incident_seq = i.seq"
            " AND p.party = :party)) ORDER BY i.seq LIMIT :limit",
            {"after": after, "party": viewer.party, "relay": viewer.relay, "limit": limit + 1},
        ).fetchall()
        items, nxt = _page(rows, limit)
        return Page([incident_from_json(r) for r in items], nxt)

    # requests
    def get_request(self, request_id: str) -> PermissionRequest | None:
        row = self._c.execute("SELECT body FROM requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else request_from_json(json.loads(row[0]))

    def save_request(self, r: PermissionRequest) -> None:
        self._c.execute(
            "INSERT INTO requests (id, party, to_party, state, respond_by, body)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
            " body = excluded.body",
            (r.id, r.party, r.to, str(r.state), r.respond_by.timestamp(), _dumps(r.to_json())),
        )

    def list_requests(self, party: str, after: int, limit: int) -> Page[PermissionRequest]:
        rows = self._c.execute(
            "SELECT seq, body FROM requests WHERE seq > :after AND (party = :party"
            " OR to_party = :party) ORDER BY seq LIMIT :limit",
            {"after": after, "party": party, "limit": limit + 1},
        ).fetchall()
        items, nxt = _page(rows, limit)
        return Page([request_from_json(r) for r in items], nxt)

    def due_requests(self, now: datetime, limit: int) -> list[PermissionRequest]:
        rows = self._c.execute(
            "SELECT body FROM requests WHERE state = 'pending' AND respond_by <= ?"
            " ORDER BY respond_by LIMIT ?",
            (now.timestamp(), limit),
        ).fetchall()
        return [request_from_json(json.loads(r[0])) for r in rows]

    # messages
    def get_message(self, message_id: str) -> Message | None:
        row = self._c.execute("SELECT body FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else message_from_json(json.loads(row[0]))

    def save_message(self, m: Message) -> None:
        self._c.execute(
            "INSERT INTO messages (id, party, to_party, body) VALUES (?, ?, ?, ?)",
            (m.id, m.party, m.to, _dumps(m.to_json())),
        )

    def list_messages(self, party: str, after: int, limit: int) -> Page[Message]:
        rows = self._c.execute(
            "SELECT seq, body FROM messages WHERE seq > :after AND (party = :party"
            " OR to_party = :party) ORDER BY seq LIMIT :limit",
            {"after": after, "party": party, "limit": limit + 1},
        ).fetchall()
        items, nxt = _page(rows, limit)
        return Page([message_from_json(r) for r in items], nxt)
