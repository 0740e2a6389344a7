"""Retention in SQLite: finding what is due, and deleting a declaration with everything that
hangs on it, or a party's delivered events. The ledger's tables are never touched here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from deconflict.retention import Purged
from deconflict.store.sql import SqlConnection, in_list

__all__ = ["RetentionTables"]


def _ids(rows: list[Any]) -> tuple[str, ...]:
    return tuple(str(r[0]) for r in rows)


class RetentionTables:
    """Retention operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    # declarations
    def declarations_done_before(self, before: datetime, limit: int) -> list[str]:
        rows = self._c.execute(
            "SELECT id FROM declarations WHERE done_at <= ? ORDER BY done_at, seq LIMIT ?",
            (before.timestamp(), limit),
        ).fetchall()
        return list(_ids(rows))

    def purge_declarations(self, ids: Sequence[str]) -> Purged:
        """Delete the declarations with every version, release and index box; the conflicts
        of which no declaration is left; and the notifications about either."""
        listed = list(ids)
        rows = self._c.execute(
            f"SELECT seq FROM declarations WHERE id IN {in_list(len(listed))}",  # noqa: S608
            listed,
        ).fetchall()
        seqs = [r[0] for r in rows]
        for table in ("declaration_versions", "releases", "declaration_boxes", "volume_index"):
            # The table names come from the literal tuple above, never from input.
            self._c.execute(
                f"DELETE FROM {table} WHERE declaration_seq IN {in_list(len(seqs))}",  # noqa: S608
                seqs,
            )
        self._c.execute(
            f"DELETE FROM declarations WHERE seq IN {in_list(len(seqs))}",  # noqa: S608
            seqs,
        )
        conflicts = _ids(
            self._c.execute(
                f"SELECT id FROM conflicts WHERE (a_id IN {in_list(len(listed))}"  # noqa: S608
                f" OR b_id IN {in_list(len(listed))})"
                " AND NOT EXISTS (SELECT 1 FROM declarations d WHERE d.id IN (a_id, b_id))"
                " ORDER BY seq",
                listed + listed,
            ).fetchall()
        )
        notifications = _ids(
            self._c.execute(
                "SELECT id FROM notifications WHERE (subject = 'conflict' AND subject_id IN"  # noqa: S608
                f" {in_list(len(conflicts))}) OR (subject IN ('release', 'launch_notice')"
                f" AND subject_id IN {in_list(len(listed))}) ORDER BY seq",
                [*conflicts, *listed],
            ).fetchall()
        )
        self._c.execute(
            f"DELETE FROM notifications WHERE id IN {in_list(len(notifications))}",  # noqa: S608
            notifications,
        )
        self._c.execute(
            f"DELETE FROM conflicts WHERE id IN {in_list(len(conflicts))}",  # noqa: S608
            conflicts,
        )
        return Purged(tuple(ids), conflicts, notifications)

    # events
    def mark_events(self, at: datetime) -> None:
        """Note the event log's newest id at ``at`` (when it grew since the last note)."""
        top = int(self._c.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        last = self._c.execute("SELECT max(top) FROM event_marks").fetchone()[0]
        if top > (last or 0):
            self._c.execute(
                "INSERT INTO event_marks VALUES (?, ?)"
                " ON CONFLICT (at) DO UPDATE SET top = excluded.top",
                (at.timestamp(), top),
            )

    def purge_events(self, before: datetime, limit: int) -> int:
        """Delete up to about ``limit`` events written before ``before`` (as far as the marks
        tell) that each party's webhook, if it has one, has delivered; how many."""
        at = before.timestamp()
        cut = self._c.execute("SELECT max(top) FROM event_marks WHERE at <= ?", (at,)).fetchone()[0]
        if cut is None:
            return 0
        total = 0
        for (party,) in self._c.execute("SELECT id FROM parties ORDER BY id").fetchall():
            hook = self._c.execute("SELECT cursor FROM webhooks WHERE party = ?", (party,))
            cursor = hook.fetchone()
            through = int(cut) if cursor is None else min(int(cut), int(cursor[0]))
            last = self._c.execute(
                "SELECT max(seq) FROM (SELECT seq FROM events WHERE party = ? AND seq <= ?"
                " ORDER BY seq LIMIT ?) AS oldest",
                (party, through, max(limit - total, 1)),
            ).fetchone()[0]
            if last is None:
                continue
            total += self._c.execute(
                "DELETE FROM events WHERE party = ? AND seq <= ?", (party, last)
            ).rowcount
            self._c.execute(
                "DELETE FROM webhook_failures WHERE party = ? AND event_id <= ?", (party, last)
            )
            self._c.execute(
                "INSERT INTO event_horizons VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET"
                " purged_through = CASE WHEN excluded.purged_through"
                " > event_horizons.purged_through THEN excluded.purged_through"
                " ELSE event_horizons.purged_through END",
                (party, last),
            )
            if total >= limit:
                break
        # The newest mark at or before the cut stays: it is the next purge's starting point.
        self._c.execute(
            "DELETE FROM event_marks WHERE at < (SELECT max(at) FROM event_marks WHERE at <= ?)",
            (at,),
        )
        return total

    def events_purged_through(self, party: str) -> int:
        """The newest of the party's events that retention purged; 0 for none."""
        row = self._c.execute(
            "SELECT purged_through FROM event_horizons WHERE party = ?", (party,)
        ).fetchone()
        return 0 if row is None else int(row[0])
