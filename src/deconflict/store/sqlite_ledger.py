"""The ledger's tables in SQLite: leaves, the stored nodes of the Merkle tree, the subjects of
each leaf and every signed checkpoint. Written in the same transaction as the data they record."""

from __future__ import annotations

from collections.abc import Sequence

from deconflict.ledger import Audience
from deconflict.store.sql import SqlConnection

__all__ = ["LedgerTables"]


class LedgerTables:
    """Ledger operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    def ledger_size(self) -> int:
        row = self._c.execute("SELECT max(idx) FROM ledger_leaves").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def ledger_node(self, level: int, index: int) -> bytes:
        row = self._c.execute(
            "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
        if row is None:
            raise LookupError(f"the ledger has no node ({level}, {index})")
        return bytes(row[0])

    def ledger_append(
        self,
        index: int,
        leaf: bytes,
        audience: Audience,
        subjects: Sequence[str],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None:
        self._c.execute(
            "INSERT INTO ledger_leaves VALUES (?, ?, ?)", (index, leaf, audience.to_text())
        )
        self._c.executemany("INSERT INTO ledger_nodes VALUES (?, ?, ?)", nodes)
        self._c.executemany(
            "INSERT INTO ledger_subjects VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(s, index) for s in subjects],
        )

    def ledger_save_checkpoint(self, size: int, note: str) -> None:
        self._c.execute(
            "INSERT INTO ledger_checkpoints VALUES (?, ?) ON CONFLICT (size) DO UPDATE SET"
            " note = excluded.note",
            (size, note),
        )

    def ledger_checkpoint(self) -> str | None:
        """The latest signed checkpoint."""
        row = self._c.execute(
            "SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def ledger_checkpoints(self) -> list[str]:
        rows = self._c.execute("SELECT note FROM ledger_checkpoints ORDER BY size").fetchall()
        return [str(r[0]) for r in rows]

    def ledger_leaf(self, index: int) -> tuple[bytes, Audience] | None:
        row = self._c.execute(
            "SELECT leaf, audience FROM ledger_leaves WHERE idx = ?", (index,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), Audience.from_text(row[1]))

    def ledger_leaves(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(index, leaf) of the stored leaves with start <= index < end, in order."""
        rows = self._c.execute(
            "SELECT idx, leaf FROM ledger_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        ).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def ledger_leaf_hashes(self, start: int, end: int) -> dict[int, bytes]:
        """The stored level-0 nodes (leaf hashes) with start <= index < end."""
        rows = self._c.execute(
            "SELECT idx, hash FROM ledger_nodes WHERE level = 0 AND idx >= ? AND idx < ?",
            (start, end),
        ).fetchall()
        return {int(r[0]): bytes(r[1]) for r in rows}

    def ledger_about(self, object_id: str) -> list[int]:
        """Indexes of the leaves about an object, in order."""
        rows = self._c.execute(
            "SELECT idx FROM ledger_subjects WHERE object_id = ? ORDER BY idx", (object_id,)
        ).fetchall()
        return [int(r[0]) for r in rows]
