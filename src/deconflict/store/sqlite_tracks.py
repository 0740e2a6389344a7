"""Tracks and open encounters in SQLite: the latest report of each aircraft, and the encounters
detection carries from one cycle to the next."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from deconflict.store.sql import SqlConnection
from deconflict.track_alerts import OpenEncounter, encounter_from_json
from deconflict.tracks import Track

__all__ = ["TrackTables"]


def _track(row: Any) -> Track:
    party, track_id, t, lat, lon, alt, ref, gs, trk, vs = tuple(row)
    return Track(
        party=str(party),
        track_id=str(track_id),
        time=datetime.fromtimestamp(float(t), UTC),
        lat=float(lat),
        lon=float(lon),
        altitude_m=float(alt),
        reference="AMSL" if ref == "AMSL" else "W84",
        ground_speed_mps=float(gs),
        track_deg=float(trk),
        vertical_rate_mps=float(vs),
    )


def _key(key: Sequence[str]) -> str:
    return json.dumps(list(key), separators=(",", ":"))


class TrackTables:
    """Track operations of a SQLite transaction (mixed into the store's transaction)."""

    _c: SqlConnection

    def save_tracks(self, tracks: Iterable[Track]) -> None:
        """Keep each aircraft's latest report; an older report than the stored one is ignored."""
        self._c.executemany(
            "INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (party, track_id) DO UPDATE SET time = excluded.time,"
            " lat = excluded.lat, lon = excluded.lon, altitude_m = excluded.altitude_m,"
            " reference = excluded.reference, ground_speed_mps = excluded.ground_speed_mps,"
            " track_deg = excluded.track_deg, vertical_rate_mps = excluded.vertical_rate_mps"
            " WHERE excluded.time >= tracks.time",
            [
                (
                    t.party,
                    t.track_id,
                    t.time.timestamp(),
                    t.lat,
                    t.lon,
                    t.altitude_m,
                    t.reference,
                    t.ground_speed_mps,
                    t.track_deg,
                    t.vertical_rate_mps,
                )
                for t in tracks
            ],
        )

    def party_tracks(self, party: str) -> list[Track]:
        rows = self._c.execute(
            "SELECT * FROM tracks WHERE party = ? ORDER BY track_id", (party,)
        ).fetchall()
        return [_track(r) for r in rows]

    def tracks_since(self, since: datetime) -> list[Track]:
        rows = self._c.execute(
            "SELECT * FROM tracks WHERE time >= ? ORDER BY party, track_id",
            (since.timestamp(),),
        ).fetchall()
        return [_track(r) for r in rows]

    def purge_tracks(self, before: datetime) -> int:
        """Forget reports older than ``before``; how many."""
        cur = self._c.execute("DELETE FROM tracks WHERE time < ?", (before.timestamp(),))
        return cur.rowcount

    def oldest_track_before(self, before: datetime) -> bool:
        row = self._c.execute(
            "SELECT 1 FROM tracks WHERE time < ? LIMIT 1", (before.timestamp(),)
        ).fetchone()
        return row is not None

    def open_encounters(self) -> dict[tuple[str, ...], OpenEncounter]:
        rows = self._c.execute("SELECT body FROM encounters").fetchall()
        found = [encounter_from_json(json.loads(r[0])) for r in rows]
        return {e.alert.key: e for e in found}

    def save_encounters(self, encounters: Iterable[OpenEncounter]) -> None:
        """Replace the open encounters with ``encounters``."""
        self._c.execute("DELETE FROM encounters")
        self._c.executemany(
            "INSERT INTO encounters (key, body) VALUES (?, ?)",
            [(_key(e.alert.key), json.dumps(e.to_json())) for e in encounters],
        )
