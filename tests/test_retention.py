"""Retention on a real SQLite file with a fake clock: declarations done long enough ago leave the
tables with their conflicts and notifications, the ledger keeps every leaf (evidence and proofs
still verify, and so does the data dir), delivered old events go and a stream resuming before
them is told so, and a purge stopped midway finishes after a restart.

The clock starts at noon on 6 April 2017; the declarations' windows come from factories.py
(START..END, ending 06:00 on 7 April) unless named; retention periods are the defaults (30 days
for declarations, 14 for events) unless a test sets its own.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import Api, make_channel_parties
from databases import raw_sql
from deconflict.api.app import create_app
from deconflict.cli import app as cli_app
from deconflict.disclosure import Role
from deconflict.ledger import Ledger, parse_leaf
from deconflict.retention import PURGE_ENTRY, RetentionPolicy
from deconflict.rules import default_rules
from deconflict.runtime import ledger_signer, open_store
from deconflict.service import Channel
from deconflict.settings import Settings
from factories import END, box, declaration, hospital, point, volume
from test_inbox import FakeClock

T0 = datetime(2017, 4, 6, 12, 0, tzinfo=UTC)
WINDOW_END = datetime.fromisoformat(END)
DAY = timedelta(days=1)
TABLES = ("declarations", "declaration_versions", "conflicts", "notifications", "events")

runner = CliRunner()


class Ops:
    """A channel on ``tmp/deconflict.db`` with the data dir's ledger key (so that
    ``deconflict verify --data-dir`` reads it), a fake clock and an in-process client."""

    def __init__(self, tmp: Path, policy: RetentionPolicy | None = None) -> None:
        self.tmp = tmp
        self.clock = FakeClock(T0)
        self.policy = policy or RetentionPolicy()
        self.tokens: dict[str, str] = {}
        self.api = self._open()
        self.tokens.update(make_channel_parties(self.channel))
        self.tokens["coalition_admin"] = self.channel.add_principal(
            "coalition", "coalition_admin", Role.PARTY_ADMIN
        )[1]

    def _open(self) -> Api:
        channel = Channel(
            open_store(Settings(data_dir=self.tmp)),
            default_rules(),
            Ledger(ledger_signer(self.tmp, "test/ledger")),
            retention=self.policy,
            clock=self.clock,
        )
        app = create_app(Settings(data_dir=self.tmp), channel)
        return Api(TestClient(app), self.tokens, app)

    @property
    def channel(self) -> Channel:
        return self.api.channel

    def restart(self) -> None:
        self.channel.store.close()
        self.api = self._open()

    def rows(self) -> dict[str, int]:
        with raw_sql(Settings(data_dir=self.tmp)) as db:
            return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def leaves(self) -> list[dict[str, Any]]:
        with self.channel.store.read() as txn:
            return [parse_leaf(leaf) for _, leaf in txn.ledger_leaves(0, 2**62)]

    def verify(self, *args: str) -> list[dict[str, str]]:
        result = runner.invoke(cli_app, ["verify", "--json", *args])
        assert result.exit_code in (0, 1), result.output
        problems: list[dict[str, str]] = json.loads(result.stdout)["problems"]
        return problems


@pytest.fixture
def ops(tmp_path: Path) -> Ops:
    return Ops(tmp_path)


def clash(ops: Ops, lon: float = 38.5, **window: str) -> tuple[str, str]:
    """Two conflicting air operations around ``lon``, the coalition's and Russia's: their
    ids."""
    cap = ops.api.declare(
        "coalition",
        declaration("air_operation", "CAP", volume(point(lon, 35.5), buffer_m=10_000, **window)),
    )
    sortie = ops.api.declare(
        "russia",
        declaration(
            "air_operation", "Sortie", volume(box(lon - 0.1, 35.4, lon + 0.1, 35.6), **window)
        ),
    )
    assert cap["conflicts"] == []
    assert len(sortie["conflicts"]) == 1
    return cap["declaration"]["id"], sortie["declaration"]["id"]


def test_declarations_done_30_days_ago_leave_the_api_and_the_rest_stay(ops: Ops) -> None:
    old_cap, old_sortie = clash(ops)
    (conflict,) = ops.api.get("coalition", "/v1/conflicts").json()["items"]
    conflict_id = conflict["id"]
    # Ended 7 days before the purge; not ended at all; cancelled 31 days before it.
    recent, _ = clash(ops, 40.0, start="2017-05-01T00:00:00Z", end="2017-05-01T06:00:00Z")
    future = ops.api.declare(
        "coalition",
        declaration(
            "air_operation",
            "Later",
            volume(
                point(30.0, 30.0),
                buffer_m=1000,
                start="2017-05-20T00:00:00Z",
                end="2017-05-20T06:00:00Z",
            ),
        ),
    )["declaration"]
    cancelled = ops.api.declare(
        "coalition",
        declaration(
            "air_operation",
            "Off",
            volume(
                point(31.0, 30.0),
                buffer_m=1000,
                start="2017-05-25T00:00:00Z",
                end="2017-05-25T06:00:00Z",
            ),
        ),
    )["declaration"]
    assert ops.api.delete("coalition", f"/v1/declarations/{cancelled['id']}", 1).status_code == 200
    ops.clock.set(WINDOW_END + 31 * DAY)

    report = ops.channel.purger.run()

    gone = {old_cap, old_sortie, cancelled["id"]}
    assert (report.declarations, report.conflicts) == (3, 1)
    for decl_id, who in ((old_cap, "coalition"), (old_sortie, "russia")):
        assert ops.api.get(who, f"/v1/declarations/{decl_id}").status_code == 404
    assert ops.api.get("coalition", f"/v1/conflicts/{conflict_id}").status_code == 404
    listed = {d["id"] for d in ops.api.get("coalition", "/v1/declarations").json()["items"]}
    assert listed == {recent, future["id"]}
    told = ops.api.get("coalition", "/v1/notifications").json()["items"]
    assert told  # the recent clash's
    assert conflict_id not in {n["subject_id"] for n in told}
    purges = [e for e in ops.leaves() if e["type"] == PURGE_ENTRY]
    assert len(purges) == 1
    assert set(purges[0]["object"]["declarations"]) == gone
    assert ops.verify("--data-dir", str(ops.tmp)) == []


def test_evidence_about_a_purged_declaration_still_comes_from_the_ledger(ops: Ops) -> None:
    cap, _ = clash(ops)
    before = ops.api.get("coalition", f"/v1/ledger/evidence/{cap}").json()
    ops.clock.set(WINDOW_END + 31 * DAY)
    ops.channel.purger.run()
    assert ops.api.get("coalition", f"/v1/declarations/{cap}").status_code == 404
    after = ops.api.get("coalition", f"/v1/ledger/evidence/{cap}")
    assert after.status_code == 200
    evidence = after.json()
    assert [e["leaf"] for e in evidence["entries"]] == [e["leaf"] for e in before["entries"]]
    path = ops.tmp / "evidence.json"
    path.write_text(json.dumps(evidence))
    assert ops.verify(str(path)) == []
    # The other party still may not read it, purged or not.
    assert ops.api.get("russia", f"/v1/ledger/evidence/{cap}").status_code == 404


def test_old_receipts_and_consistency_proofs_still_verify_after_a_purge(ops: Ops) -> None:
    cap = ops.api.declare(
        "coalition", declaration("air_operation", "CAP", volume(point(38.5, 35.5), buffer_m=1000))
    )
    receipt = cap["receipt"]
    size = ops.leaves().__len__()
    ops.clock.set(WINDOW_END + 31 * DAY)
    ops.channel.purger.run()
    new_size = len(ops.leaves())
    assert new_size == size + 1  # the purge's own entry; nothing removed
    proof = ops.api.get(
        "coalition", "/v1/ledger/consistency", params={"first": size, "second": new_size}
    )
    assert proof.status_code == 200, proof.text
    leaf = ops.api.get("coalition", f"/v1/ledger/leaves/{receipt['leaf_index']}")
    assert leaf.status_code == 200
    assert ops.verify("--data-dir", str(ops.tmp)) == []


def test_a_purge_frees_the_rows_of_every_table_it_touches(ops: Ops) -> None:
    baseline = ops.rows()
    for k in range(5):
        ops.api.declare("medics", hospital(f"Hospital {k}", released_to=["coalition"]))
        clash(ops, 38.5 + k)
    grown = ops.rows()
    assert all(grown[t] > baseline[t] for t in TABLES)
    ops.clock.set(WINDOW_END + 31 * DAY)
    ops.channel.purger.run()
    purged = ops.rows()
    for table in ("declarations", "declaration_versions", "conflicts", "notifications"):
        assert purged[table] == baseline[table], table
    if not Settings(data_dir=ops.tmp).postgres_url:
        with sqlite3.connect(ops.tmp / "deconflict.db") as db:
            # Freed pages are reused by later writes: the file stops growing without VACUUM.
            assert db.execute("PRAGMA freelist_count").fetchone()[0] > 0


def test_delivered_old_events_are_purged_and_a_stream_resuming_before_them_gets_410(
    ops: Ops,
) -> None:
    with ops.channel.store.read() as txn:
        top = txn.last_event_id()
    # The start id of a stream Russia's screen opened at T0, before the events it then missed.
    old_id = ops.channel.sealed.position("russia", top)
    clash(ops)
    ops.clock.advance(DAY)
    ops.channel.purger.run()  # notes where the event log stands a day after T0
    ops.clock.advance(13 * DAY)
    # 14 days after T0: the events may be 14 days old, but the mark that covers them is not.
    assert ops.channel.purger.run().events == 0
    ops.clock.advance(DAY)
    assert ops.channel.purger.run().events > 0
    assert ops.rows()["events"] == 0

    r = ops.api.get("russia", "/v1/events", headers={"Last-Event-ID": old_id})
    assert r.status_code == 410
    assert r.json()["code"] == "gone"
    assert ops.api.get("russia", "/v1/events", params={"last_event_id": old_id}).status_code == 410


def test_events_not_yet_delivered_to_the_party_webhook_are_kept(ops: Ops) -> None:
    hook = ops.api.client.put(
        "/v1/webhook",
        json={"url": "http://receiver.invalid/"},
        headers=ops.api.headers("coalition_admin"),
    )
    assert hook.status_code in (200, 201), hook.text
    clash(ops)  # events for both parties; the coalition's webhook has not sent its own
    ops.clock.advance(DAY)
    ops.channel.purger.run()
    ops.clock.advance(15 * DAY)
    ops.channel.purger.run()
    with ops.channel.store.read() as txn:
        assert txn.events_after("coalition", 0, 100)
        assert not txn.events_after("russia", 0, 100)
        assert txn.events_purged_through("coalition") == 0


def test_a_purge_stopped_midway_finishes_after_a_restart(tmp_path: Path) -> None:
    ops = Ops(tmp_path, RetentionPolicy(batch=1))
    for k in range(3):
        clash(ops, 38.5 + k)
    ops.clock.set(WINDOW_END + 31 * DAY)
    first = ops.channel.purger.run(max_batches=2)
    assert (first.declarations, first.more) == (2, True)
    assert ops.verify("--data-dir", str(tmp_path)) == []
    ops.restart()
    rest = ops.channel.purger.run()
    assert rest.declarations == 4
    assert ops.rows()["declarations"] == 0
    assert ops.verify("--data-dir", str(tmp_path)) == []
