"""The transaction over the tables both stores share (:mod:`deconflict.store.sql`): parties,
principals, declarations, conflicts, and the mixins for the ledger, channel, exchanges, health,
tracks and retention. Each store adds its own candidate index."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from deconflict.conflicts import Conflict
from deconflict.declarations import PROTECTED_KINDS, Declaration, from_json
from deconflict.disclosure import Viewer
from deconflict.indexing import Box
from deconflict.principals import Party, Principal
from deconflict.retention import done_at
from deconflict.store.base import ConflictQuery, DeclarationQuery, Page
from deconflict.store.cache import DeclarationCache
from deconflict.store.sql import SqlConnection
from deconflict.store.sqlite_channel import ChannelTables
from deconflict.store.sqlite_exchanges import ExchangeTables
from deconflict.store.sqlite_health import HealthTables
from deconflict.store.sqlite_ledger import LedgerTables
from deconflict.store.sqlite_records import conflict_from_json, conflict_to_json, principal_from_row
from deconflict.store.sqlite_retention import RetentionTables
from deconflict.store.sqlite_tracks import TrackTables
from deconflict.volumes import format_time, parse_time

__all__ = ["SqlTxn"]

T = TypeVar("T")
_PROTECTED = tuple(str(k) for k in sorted(PROTECTED_KINDS))


_IN_BBOX = (
    "AND EXISTS (SELECT 1 FROM declaration_boxes b WHERE b.declaration_seq = d.seq"
    " AND b.min_lon <= :x1 AND b.max_lon >= :x0 AND b.min_lat <= :y1 AND b.max_lat >= :y0)"
)
_IN_BBOX_ACROSS_ANTIMERIDIAN = (
    "AND EXISTS (SELECT 1 FROM declaration_boxes b WHERE b.declaration_seq = d.seq"
    " AND (b.max_lon >= :x0 OR b.min_lon <= :x1) AND b.min_lat <= :y1 AND b.max_lat >= :y0)"
)


def _page(rows: list[Any], limit: int, load: Callable[[Any], T]) -> Page[T]:
    """A page from ``limit + 1`` rows whose first column is the sequence number."""
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([load(r) for r in rows], rows[-1][0] if more and rows else None)


class SqlTxn(
    LedgerTables, ChannelTables, ExchangeTables, HealthTables, TrackTables, RetentionTables
):
    """Everything the service does inside one transaction, over the tables both stores share;
    a store's subclass adds its candidate index (:meth:`_index_boxes`, :meth:`_box_matches`)."""

    def __init__(self, conn: SqlConnection, cache: DeclarationCache) -> None:
        self._c = conn
        self._cache = cache

    # parties and principals
    def get_party(self, party_id: str) -> Party | None:
        row = self._c.execute("SELECT * FROM parties WHERE id = ?", (party_id,)).fetchone()
        return (
            None
            if row is None
            else Party(row["id"], row["name"], parse_time(row["created_at"], ""))
        )

    def list_parties(self) -> list[Party]:
        rows = self._c.execute("SELECT * FROM parties ORDER BY id").fetchall()
        return [Party(r["id"], r["name"], parse_time(r["created_at"], "")) for r in rows]

    def insert_party(self, party: Party) -> None:
        self._c.execute(
            "INSERT INTO parties VALUES (?, ?, ?)",
            (party.id, party.name, format_time(party.created_at)),
        )

    def insert_principal(self, principal: Principal, token_hash: bytes) -> None:
        self._c.execute(
            "INSERT INTO principals VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (
                principal.id,
                principal.party,
                principal.name,
                str(principal.role),
                token_hash,
                format_time(principal.created_at),
            ),
        )

    def principal_by_token(self, token_hash: bytes) -> Principal | None:
        row = self._c.execute(
            "SELECT * FROM principals WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,)
        ).fetchone()
        return None if row is None else principal_from_row(row)

    def get_principal(self, principal_id: str) -> Principal | None:
        row = self._c.execute("SELECT * FROM principals WHERE id = ?", (principal_id,)).fetchone()
        return None if row is None else principal_from_row(row)

    def list_principals(self, party_id: str | None) -> list[Principal]:
        rows = (
            self._c.execute("SELECT * FROM principals ORDER BY party_id, id")
            if party_id is None
            else self._c.execute(
                "SELECT * FROM principals WHERE party_id = ? ORDER BY party_id, id", (party_id,)
            )
        ).fetchall()
        return [principal_from_row(r) for r in rows]

    def revoke_principal(self, principal_id: str, when: datetime) -> bool:
        cur = self._c.execute(
            "UPDATE principals SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (format_time(when), principal_id),
        )
        return cur.rowcount == 1

    # declarations
    def _load(self, decl_id: str, version: int, body: str | None = None) -> Declaration:
        cached = self._cache.get((decl_id, version))
        if cached is not None:
            return cached
        if body is None:
            body = self._c.execute(
                "SELECT body FROM declarations WHERE id = ?", (decl_id,)
            ).fetchone()[0]
        decl = from_json(json.loads(body))
        self._cache.put(decl)
        return decl

    def get_declaration(self, declaration_id: str) -> Declaration | None:
        row = self._c.execute(
            "SELECT id, version, body FROM declarations WHERE id = ?", (declaration_id,)
        ).fetchone()
        return None if row is None else self._load(row[0], row[1], row[2])

    def save_declaration(self, decl: Declaration, index: Sequence[Box]) -> None:
        body = json.dumps(decl.to_json(), separators=(",", ":"))
        t0 = min(v.time.start for v in decl.volumes).timestamp()
        t1 = max(v.time.end for v in decl.volumes).timestamp()
        done = done_at(decl).timestamp()
        row = self._c.execute("SELECT seq FROM declarations WHERE id = ?", (decl.id,)).fetchone()
        if row is None:
            seq = self._c.execute(
                "INSERT INTO declarations (id, party_id, kind, state, version, t_start, t_end,"
                " body, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    decl.id,
                    decl.party,
                    str(decl.kind),
                    str(decl.state),
                    decl.version,
                    t0,
                    t1,
                    body,
                    done,
                ),
            ).fetchone()[0]
        else:
            seq = row[0]
            self._c.execute(
                "UPDATE declarations SET state = ?, version = ?, t_start = ?, t_end = ?, body = ?,"
                " done_at = ? WHERE seq = ?",
                (str(decl.state), decl.version, t0, t1, body, done, seq),
            )
            for table in ("releases", "declaration_boxes"):
                # The table names come from the literal tuple above, never from input.
                self._c.execute(f"DELETE FROM {table} WHERE declaration_seq = ?", (seq,))  # noqa: S608
            self._c.execute("DELETE FROM volume_index WHERE declaration_seq = ?", (seq,))
        self._c.execute(
            "INSERT INTO declaration_versions VALUES (?, ?, ?)", (seq, decl.version, body)
        )
        self._c.executemany(
            "INSERT INTO releases VALUES (?, ?)", [(seq, p) for p in decl.released_to]
        )
        self._index_boxes(seq, index)
        self._c.executemany(
            "INSERT INTO declaration_boxes VALUES (?, ?, ?, ?, ?)",
            [(seq, b.min_lon, b.max_lon, b.min_lat, b.max_lat) for b in index],
        )
        self._cache.put(decl)

    def candidates(self, boxes: Sequence[Box]) -> list[Declaration]:
        found: dict[str, int] = {}
        for b in boxes:
            rows = self._box_matches(b)
            found.update((r[0], r[1]) for r in rows)
        return [self._load(i, v) for i, v in found.items()]

    def track_declarations(self, since: datetime, until: datetime) -> list[Declaration]:
        rows = self._c.execute(
            "SELECT id, version, body FROM declarations WHERE t_end >= ? AND t_start <= ?"
            " ORDER BY seq",
            (since.timestamp(), until.timestamp()),
        ).fetchall()
        return [self._load(r[0], r[1], r[2]) for r in rows]

    def list_declarations(self, viewer: Viewer, query: DeclarationQuery) -> Page[Declaration]:
        sql = [
            "SELECT d.seq, d.id, d.version, d.body FROM declarations d WHERE d.seq > :after AND"
            " (d.party_id = :party OR d.kind = 'coordination_measure' OR (d.kind IN (:p0, :p1)"
            " AND (:relay OR EXISTS (SELECT 1 FROM releases r WHERE r.declaration_seq = d.seq"
            " AND r.party_id = :party))))"
        ]
        args: dict[str, Any] = {
            "after": query.after,
            "party": viewer.party,
            "relay": viewer.relay,
            "p0": _PROTECTED[0],
            "p1": _PROTECTED[1],
            "limit": query.limit + 1,
        }
        if query.kind is not None:
            sql.append("AND d.kind = :kind")
            args["kind"] = query.kind
        if query.state is not None:
            sql.append("AND d.state = :state")
            args["state"] = query.state
        if query.start is not None:
            sql.append("AND d.t_end >= :start")
            args["start"] = query.start.timestamp()
        if query.end is not None:
            sql.append("AND d.t_start <= :end")
            args["end"] = query.end.timestamp()
        if query.bbox is not None:
            x0, _, x1, _ = query.bbox
            # A west edge east of the east edge crosses the antimeridian (RFC 7946).
            sql.append(_IN_BBOX if x0 <= x1 else _IN_BBOX_ACROSS_ANTIMERIDIAN)
            args.update(zip(("x0", "y0", "x1", "y1"), query.bbox, strict=True))
        sql.append("ORDER BY d.seq LIMIT :limit")
        rows = self._c.execute(" ".join(sql), args).fetchall()
        return _page(rows, query.limit, lambda r: self._load(r[1], r[2], r[3]))

    def declaration_bodies(self) -> list[tuple[str, int, str]]:
        """(id, version, JSON body) of every declaration as served and of every stored version."""
        rows = self._c.execute(
            "SELECT id, version, body FROM declarations UNION ALL SELECT d.id, v.version, v.body"
            " FROM declaration_versions v JOIN declarations d ON d.seq = v.declaration_seq"
        ).fetchall()
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    def all_conflicts(self) -> list[Conflict]:
        rows = self._c.execute("SELECT body FROM conflicts ORDER BY seq").fetchall()
        return [conflict_from_json(r[0]) for r in rows]

    def count_declarations(self) -> int:
        return int(self._c.execute("SELECT count(*) FROM declarations").fetchone()[0])

    # conflicts
    def get_conflict(self, conflict_id: str) -> Conflict | None:
        row = self._c.execute("SELECT body FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
        return None if row is None else conflict_from_json(row[0])

    def conflicts_of(self, declaration_id: str) -> list[Conflict]:
        rows = self._c.execute(
            "SELECT body FROM conflicts WHERE (a_id = ?1 OR b_id = ?1) AND state = 'open'"
            " ORDER BY seq",
            (declaration_id,),
        ).fetchall()
        return [conflict_from_json(r[0]) for r in rows]

    def conflict_between(self, a_id: str, b_id: str) -> Conflict | None:
        row = self._c.execute(
            "SELECT body FROM conflicts WHERE a_id = ? AND b_id = ?", (a_id, b_id)
        ).fetchone()
        return None if row is None else conflict_from_json(row[0])

    def save_conflict(self, conflict: Conflict) -> None:
        self._c.execute(
            "INSERT INTO conflicts (id, a_id, b_id, a_party, b_party, a_sees, b_sees, protected,"
            " state, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " a_sees = excluded.a_sees, b_sees = excluded.b_sees, state = excluded.state,"
            " body = excluded.body",
            (
                conflict.id,
                conflict.a.declaration_id,
                conflict.b.declaration_id,
                conflict.a.party,
                conflict.b.party,
                conflict.a.sees,
                conflict.b.sees,
                conflict.involves_protected,
                str(conflict.state),
                conflict_to_json(conflict),
            ),
        )

    def list_conflicts(self, viewer: Viewer, query: ConflictQuery) -> Page[Conflict]:
        sql = [
            "SELECT seq, body FROM conflicts WHERE seq > :after AND ((a_party = :party AND a_sees)"
            " OR (b_party = :party AND b_sees) OR (:relay AND protected))"
        ]
        args: dict[str, Any] = {
            "after": query.after,
            "party": viewer.party,
            "relay": viewer.relay,
            "limit": query.limit + 1,
        }
        if query.state is not None:
            sql.append("AND state = :state")
            args["state"] = query.state
        if query.declaration_id is not None:
            sql.append("AND (a_id = :decl OR b_id = :decl)")
            args["decl"] = query.declaration_id
        sql.append("ORDER BY seq LIMIT :limit")
        rows = self._c.execute(" ".join(sql), args).fetchall()
        return _page(rows, query.limit, lambda r: conflict_from_json(r[1]))

    def _index_boxes(self, seq: int, index: Sequence[Box]) -> None:
        raise NotImplementedError

    def _box_matches(self, b: Box) -> list[Any]:
        """(id, version) of the declarations with an index box meeting ``b``."""
        raise NotImplementedError
