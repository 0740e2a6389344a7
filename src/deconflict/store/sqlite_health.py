"""Channel health in SQLite: suspensions, when each party was last seen, and the last line
test sent to each."""

from __future__ import annotations

from datetime import UTC, datetime

from deconflict.health import Suspension
from deconflict.store.sql import SqlConnection

__all__ = ["HealthTables"]


def _at(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class HealthTables:
    """Health operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    def suspensions(self) -> dict[str, Suspension]:
        rows = self._c.execute("SELECT party, since, reason, by FROM suspensions").fetchall()
        return {r[0]: Suspension(r[0], _at(r[1]), r[2], r[3]) for r in rows}

    def save_suspension(self, s: Suspension) -> None:
        self._c.execute(
            "INSERT INTO suspensions VALUES (?, ?, ?, ?) ON CONFLICT (party) DO UPDATE SET"
            " since = excluded.since, reason = excluded.reason, by = excluded.by",
            (s.party, s.since.timestamp(), s.reason, s.by),
        )

    def delete_suspension(self, party: str) -> bool:
        return self._c.execute("DELETE FROM suspensions WHERE party = ?", (party,)).rowcount == 1

    def last_seen(self) -> dict[str, datetime]:
        return {r[0]: _at(r[1]) for r in self._c.execute("SELECT party, at FROM party_seen")}

    def save_seen(self, seen: dict[str, datetime]) -> None:
        self._c.executemany(
            "INSERT INTO party_seen VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET"
            " at = CASE WHEN excluded.at > party_seen.at THEN excluded.at ELSE party_seen.at END",
            [(party, at.timestamp()) for party, at in seen.items()],
        )

    def line_tests(self) -> dict[str, datetime]:
        """When the last line test sent to each party was scheduled for."""
        rows = self._c.execute("SELECT party, scheduled_for FROM line_tests")
        return {r[0]: _at(r[1]) for r in rows}

    def save_line_test(self, party: str, scheduled_for: datetime) -> None:
        self._c.execute(
            "INSERT INTO line_tests VALUES (?, ?) ON CONFLICT (party) DO UPDATE SET"
            " scheduled_for = excluded.scheduled_for",
            (party, scheduled_for.timestamp()),
        )
