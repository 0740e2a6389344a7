"""SQLite schema as named, ordered migrations. A migration, once released, never changes."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_core",
        """
        CREATE TABLE parties (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE principals (
            id TEXT PRIMARY KEY,
            party_id TEXT NOT NULL REFERENCES parties(id),
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            token_hash BLOB NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE declarations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            party_id TEXT NOT NULL REFERENCES parties(id),
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            version INTEGER NOT NULL,
            t_start REAL NOT NULL,
            t_end REAL NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX declarations_party ON declarations(party_id, seq);
        CREATE INDEX declarations_kind ON declarations(kind, seq);
        CREATE TABLE declaration_versions (
            declaration_seq INTEGER NOT NULL REFERENCES declarations(seq),
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (declaration_seq, version)
        ) WITHOUT ROWID;
        CREATE TABLE releases (
            declaration_seq INTEGER NOT NULL REFERENCES declarations(seq),
            party_id TEXT NOT NULL,
            PRIMARY KEY (declaration_seq, party_id)
        ) WITHOUT ROWID;
        CREATE TABLE declaration_boxes (
            declaration_seq INTEGER NOT NULL REFERENCES declarations(seq),
            min_lon REAL NOT NULL, max_lon REAL NOT NULL,
            min_lat REAL NOT NULL, max_lat REAL NOT NULL
        );
        CREATE INDEX declaration_boxes_seq ON declaration_boxes(declaration_seq);
        CREATE VIRTUAL TABLE volume_index USING rtree(
            id,
            min_lon, max_lon, min_lat, max_lat, min_t, max_t, min_alt, max_alt,
            +declaration_seq INTEGER
        );
        CREATE TABLE conflicts (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            a_id TEXT NOT NULL,
            b_id TEXT NOT NULL,
            a_party TEXT NOT NULL,
            b_party TEXT NOT NULL,
            a_sees INTEGER NOT NULL,
            b_sees INTEGER NOT NULL,
            protected INTEGER NOT NULL,
            state TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (a_id, b_id)
        );
        CREATE INDEX conflicts_a ON conflicts(a_id);
        CREATE INDEX conflicts_b ON conflicts(b_id);
        CREATE INDEX conflicts_a_party ON conflicts(a_party, seq);
        CREATE INDEX conflicts_b_party ON conflicts(b_party, seq);
        """,
    ),
    (
        "0002_ledger",
        """
        CREATE TABLE ledger_leaves (
            idx INTEGER PRIMARY KEY,
            leaf BLOB NOT NULL,
            audience TEXT NOT NULL
        );
        CREATE TABLE ledger_nodes (
            level INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            hash BLOB NOT NULL,
            PRIMARY KEY (level, idx)
        ) WITHOUT ROWID;
        CREATE TABLE ledger_subjects (
            object_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            PRIMARY KEY (object_id, idx)
        ) WITHOUT ROWID;
        CREATE TABLE ledger_checkpoints (
            size INTEGER PRIMARY KEY,
            note TEXT NOT NULL
        );
        """,
    ),
    (
        "0003_channel",
        """
        CREATE TABLE notifications (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL,
            subject TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            state TEXT NOT NULL,
            deadline REAL,
            body TEXT NOT NULL,
            UNIQUE (party, subject, subject_id)
        );
        CREATE INDEX notifications_party ON notifications(party, seq);
        CREATE INDEX notifications_due ON notifications(deadline) WHERE deadline IS NOT NULL;
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            party TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX events_party ON events(party, seq);
        CREATE TABLE rosters (
            party TEXT PRIMARY KEY,
            body TEXT NOT NULL
        );
        """,
    ),
    (
        "0004_exchanges",
        """
        CREATE TABLE incidents (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX incidents_party ON incidents(party, seq);
        CREATE TABLE incident_parties (
            incident_seq INTEGER NOT NULL REFERENCES incidents(seq),
            party TEXT NOT NULL,
            PRIMARY KEY (party, incident_seq)
        ) WITHOUT ROWID;
        CREATE TABLE requests (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL,
            to_party TEXT NOT NULL,
            state TEXT NOT NULL,
            respond_by REAL NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX requests_party ON requests(party, seq);
        CREATE INDEX requests_to ON requests(to_party, seq);
        CREATE INDEX requests_due ON requests(respond_by) WHERE state = 'pending';
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL,
            to_party TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX messages_party ON messages(party, seq);
        CREATE INDEX messages_to ON messages(to_party, seq);
        """,
    ),
    (
        "0005_webhooks",
        """
        CREATE TABLE webhooks (
            party TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            secret BLOB NOT NULL,
            cursor INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt REAL,
            last_error TEXT
        );
        CREATE TABLE webhook_failures (
            seq INTEGER PRIMARY KEY,
            party TEXT NOT NULL,
            event_id INTEGER NOT NULL,
            at REAL NOT NULL,
            status INTEGER,
            error TEXT NOT NULL
        );
        CREATE INDEX webhook_failures_party ON webhook_failures(party, seq);
        """,
    ),
    (
        "0006_health",
        """
        CREATE TABLE suspensions (
            party TEXT PRIMARY KEY,
            since REAL NOT NULL,
            reason TEXT NOT NULL,
            by TEXT NOT NULL
        );
        CREATE TABLE party_seen (
            party TEXT PRIMARY KEY,
            at REAL NOT NULL
        );
        CREATE TABLE line_tests (
            party TEXT PRIMARY KEY,
            scheduled_for REAL NOT NULL
        );
        """,
    ),
    (
        "0007_tracks",
        """
        CREATE TABLE tracks (
            party TEXT NOT NULL,
            track_id TEXT NOT NULL,
            time REAL NOT NULL,
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            altitude_m REAL NOT NULL,
            reference TEXT NOT NULL,
            ground_speed_mps REAL NOT NULL,
            track_deg REAL NOT NULL,
            vertical_rate_mps REAL NOT NULL,
            PRIMARY KEY (party, track_id)
        ) WITHOUT ROWID;
        CREATE INDEX tracks_time ON tracks(time);
        CREATE TABLE encounters (
            key TEXT PRIMARY KEY,
            body TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        "0008_retention",
        # done_at: when a declaration is done (deconflict.retention.done_at); rows from before
        # this migration take their window's end. event_marks: the event log's newest id at a
        # time, so that an event's age is known without a column on every event.
        """
        ALTER TABLE declarations ADD COLUMN done_at REAL;
        UPDATE declarations SET done_at = t_end;
        CREATE INDEX declarations_done ON declarations(done_at);
        CREATE INDEX notifications_subject ON notifications(subject_id);
        CREATE TABLE event_marks (
            at REAL PRIMARY KEY,
            top INTEGER NOT NULL
        );
        CREATE TABLE event_horizons (
            party TEXT PRIMARY KEY,
            purged_through INTEGER NOT NULL
        );
        """,
    ),
)
