"""Altering the database file behind the service's back: `deconflict verify` pinpoints each
change. And what it cannot see from inside (a rewrite re-signed with the key kept beside the
database), a party's own record of receipts and tree heads shows."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import make_channel_parties
from databases import raw_sql
from deconflict.cli import app
from deconflict.merkle import appended_nodes, leaf_hash, stored_root
from deconflict.notes import Checkpoint, SignerKey
from deconflict.runtime import open_channel
from deconflict.settings import Settings
from deconflict.store.sql import SqlConnection
from factories import box, declaration, hospital, point, volume
from servers import KEEP_2017, free_port, running

runner = CliRunner()
KM_9_IN_DEGREES_OF_LATITUDE = 9.0 / 111.0


@dataclass
class Channel:
    data_dir: Path
    settings: Settings
    tokens: dict[str, str]
    receipts: dict[str, dict[str, Any]]
    """the receipt of each named write"""
    ids: dict[str, str]


def _declare(channel: Any, who: str, body: dict[str, Any]) -> Any:
    principal = next(p for p in channel.list_principals() if p.name == who)
    return channel.declare(principal, body)


@pytest.fixture
def filled(tmp_path: Path) -> Channel:
    """A data dir with parties, two conflicting air operations, an amendment and a hospital."""
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    cap = declaration("air_operation", "CAP", volume(point(38.5, 35.5), buffer_m=10_000))
    out = {
        "cap": _declare(channel, "coalition", cap),
        "strike": _declare(
            channel,
            "russia",
            declaration("air_operation", "Sortie", volume(box(38.4, 35.4, 38.6, 35.6))),
        ),
        "hospital": _declare(channel, "medics", hospital("Hospital")),
    }
    principal = next(p for p in channel.list_principals() if p.name == "coalition")
    cap_decl = out["cap"].declaration
    out["amended"] = channel.amend(principal, cap_decl.id, cap_decl.version, {"title": "CAP 2"})
    channel.store.close()
    return Channel(
        settings.data_dir,
        settings,
        tokens,
        {k: v.receipt.to_json() for k, v in out.items()},
        {k: v.declaration.id for k, v in out.items()},
    )


def verify(*args: str) -> tuple[int, list[dict[str, str]]]:
    result = runner.invoke(app, ["verify", "--json", *args])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["verified"] == (result.exit_code == 0)
    return result.exit_code, report["problems"]


def problems_of(*args: str) -> set[tuple[str, str]]:
    return {(p["kind"], p["where"]) for p in verify(*args)[1]}


@pytest.fixture
def db(filled: Channel) -> Iterator[SqlConnection]:
    with raw_sql(filled.settings) as conn:
        yield conn


def test_an_untouched_data_dir_verifies(filled: Channel) -> None:
    assert verify("--data-dir", str(filled.data_dir)) == (0, [])


def test_a_declaration_moved_9_km_in_the_table_is_pinpointed(
    filled: Channel, db: SqlConnection
) -> None:
    decl_id = filled.ids["hospital"]
    body = json.loads(
        db.execute("SELECT body FROM declarations WHERE id = ?", (decl_id,)).fetchone()[0]
    )
    body["volumes"][0]["geometry"]["coordinates"][1] += KM_9_IN_DEGREES_OF_LATITUDE
    db.execute("UPDATE declarations SET body = ? WHERE id = ?", (json.dumps(body), decl_id))
    code, problems = verify("--data-dir", str(filled.data_dir))
    assert code == 1
    assert [(p["kind"], p["where"]) for p in problems] == [
        ("mismatch", f"declaration {decl_id} version 1")
    ]
    leaf = filled.receipts["hospital"]["leaf_index"]
    assert problems[0]["detail"] == (
        f"differs from ledger leaf {leaf} at /volumes/0/geometry/coordinates/1"
    )


def test_an_edited_leaf_is_pinpointed(filled: Channel, db: SqlConnection) -> None:
    index = filled.receipts["cap"]["leaf_index"]
    leaf = bytes(db.execute("SELECT leaf FROM ledger_leaves WHERE idx = ?", (index,)).fetchone()[0])
    assert b'"title":"CAP"' in leaf
    db.execute(
        "UPDATE ledger_leaves SET leaf = ? WHERE idx = ?",
        (leaf.replace(b'"title":"CAP"', b'"title":"CAQ"'), index),
    )
    found = problems_of("--data-dir", str(filled.data_dir))
    assert ("altered", f"leaf {index}") in found
    # the first signed tree head over the leaf no longer matches, and the declaration's
    # version 1 no longer matches its entry
    size = int(filled.receipts["cap"]["checkpoint"].split("\n")[1])
    assert ("forked", f"checkpoint {size}") in found
    assert ("mismatch", f"declaration {filled.ids['cap']} version 1") in found


def test_an_edited_leaf_with_its_stored_hash_is_caught_by_the_signed_tree_heads(
    filled: Channel, db: SqlConnection
) -> None:
    index = filled.receipts["hospital"]["leaf_index"]
    leaf = bytes(db.execute("SELECT leaf FROM ledger_leaves WHERE idx = ?", (index,)).fetchone()[0])
    forged = leaf.replace(b'"title":"Hospital"', b'"title":"Barracks"')
    assert forged != leaf
    db.execute("UPDATE ledger_leaves SET leaf = ? WHERE idx = ?", (forged, index))
    db.execute(
        "UPDATE ledger_nodes SET hash = ? WHERE level = 0 AND idx = ?", (leaf_hash(forged), index)
    )
    code, problems = verify("--data-dir", str(filled.data_dir))
    forks = [p for p in problems if p["kind"] == "forked"]
    size = int(filled.receipts["hospital"]["checkpoint"].split("\n")[1])
    assert code == 1
    assert forks[0]["where"] == f"checkpoint {size}"
    low, high = (int(x) for x in forks[0]["detail"].rsplit("leaves ", 1)[1].split(" to "))
    assert low <= index <= high < size


def test_removed_leaves_are_reported(filled: Channel, db: SqlConnection) -> None:
    last = filled.receipts["amended"]["leaf_index"]
    middle = filled.receipts["strike"]["leaf_index"]
    db.execute("DELETE FROM ledger_leaves WHERE idx >= ? OR idx = ?", (last, middle))
    found = problems_of("--data-dir", str(filled.data_dir))
    assert ("removed", f"leaf {middle}") in found
    size = int(filled.receipts["amended"]["checkpoint"].split("\n")[1])
    assert ("removed", f"checkpoint {size}") in found
    assert ("mismatch", f"declaration {filled.ids['cap']} version 2") in found


def test_swapped_leaves_are_reported_as_reordered(filled: Channel, db: SqlConnection) -> None:
    i, j = filled.receipts["cap"]["leaf_index"], filled.receipts["hospital"]["leaf_index"]
    rows = dict(db.execute("SELECT idx, leaf FROM ledger_leaves WHERE idx IN (?, ?)", (i, j)))
    db.execute("UPDATE ledger_leaves SET leaf = ? WHERE idx = ?", (rows[j], i))
    db.execute("UPDATE ledger_leaves SET leaf = ? WHERE idx = ?", (rows[i], j))
    _, problems = verify("--data-dir", str(filled.data_dir))
    details = {p["where"]: p["detail"] for p in problems if p["kind"] == "reordered"}
    assert details == {
        f"leaf {i}": f"holds the entry appended as leaf {j}",
        f"leaf {j}": f"holds the entry appended as leaf {i}",
    }


def test_a_checkpoint_with_an_edited_root_fails_its_signature(
    filled: Channel, db: SqlConnection
) -> None:
    size, note = db.execute("SELECT size, note FROM ledger_checkpoints LIMIT 1").fetchone()
    origin, n, _, rest = note.split("\n", 3)
    other = "A" * 43 + "="
    db.execute(
        "UPDATE ledger_checkpoints SET note = ? WHERE size = ?",
        ("\n".join([origin, n, other, rest]), size),
    )
    code, problems = verify("--data-dir", str(filled.data_dir))
    assert code == 1
    assert [p["kind"] for p in problems] == ["signature"]


def test_an_exported_log_verifies_and_its_edits_are_located(
    filled: Channel, tmp_path: Path
) -> None:
    out = tmp_path / "log.json"
    assert (
        runner.invoke(app, ["export-log", str(out), "--data-dir", str(filled.data_dir)]).exit_code
        == 0
    )
    assert verify(str(out)) == (0, [])
    log = json.loads(out.read_text())
    log["leaves"][2], log["leaves"][3] = log["leaves"][3], log["leaves"][2]
    out.write_text(json.dumps(log))
    code, problems = verify(str(out), "--key", str(filled.data_dir / "ledger.pub"))
    assert code == 1
    first = next(p for p in problems if p["kind"] == "forked")
    assert first["detail"].endswith(
        tuple(f"leaves {a} to {b}" for a in range(3) for b in range(2, 4))
    )


def rewrite_with_the_key(
    db: SqlConnection, data_dir: Path, index: int, old: bytes, new: bytes
) -> None:
    """What an operator holding the key beside the database could do: edit a leaf, rebuild
    every stored node and re-sign every checkpoint."""
    key = SignerKey.from_text((data_dir / "ledger.key").read_text().strip())
    leaf = bytes(db.execute("SELECT leaf FROM ledger_leaves WHERE idx = ?", (index,)).fetchone()[0])
    assert old in leaf
    db.execute("UPDATE ledger_leaves SET leaf = ? WHERE idx = ?", (leaf.replace(old, new), index))
    leaves = [bytes(r[0]) for r in db.execute("SELECT leaf FROM ledger_leaves ORDER BY idx")]
    nodes: dict[tuple[int, int], bytes] = {}
    for i, raw in enumerate(leaves):
        for level, j, h in appended_nodes(i, leaf_hash(raw), lambda lv, k: nodes[(lv, k)]):
            nodes[(level, j)] = h
    db.execute("DELETE FROM ledger_nodes")
    db.executemany(
        "INSERT INTO ledger_nodes VALUES (?, ?, ?)", [(lv, j, h) for (lv, j), h in nodes.items()]
    )
    for (size,) in db.execute("SELECT size FROM ledger_checkpoints").fetchall():
        note = Checkpoint(key.name, size, stored_root(lambda lv, k: nodes[(lv, k)], size)).sign(key)
        db.execute("UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (note, size))


@pytest.mark.slow
def test_a_party_record_catches_a_rewrite_signed_with_the_key(tmp_path: Path) -> None:
    """End to end over real HTTP: the coalition keeps its receipts and tree heads with
    `deconflict witness`; the operator rewrites the log behind the running service."""
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    channel.store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    record, response = tmp_path / "coalition-record.json", tmp_path / "response.json"
    coalition = ["--url", url, "--token", tokens["coalition"]]
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
    headers = {"Authorization": f"Bearer {tokens['coalition']}"}
    with (
        running(args, port, tmp_path / "server.log"),
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        r = client.post(
            "/v1/declarations",
            json=declaration("air_operation", "CAP", volume(point(38.5, 35.5), buffer_m=5_000)),
        )
        assert r.status_code == 201
        response.write_text(r.text)
        receipt = r.json()["receipt"]
        assert (
            runner.invoke(
                app, ["witness", "--record", str(record), str(response), *coalition]
            ).exit_code
            == 0
        )
        for n in range(3):
            body = declaration(
                "air_operation", f"Sortie {n}", volume(point(37.0 + n, 34.0), buffer_m=500)
            )
            assert client.post("/v1/declarations", json=body).status_code == 201
        assert runner.invoke(app, ["witness", "--record", str(record), *coalition]).exit_code == 0
        assert verify(str(record)) == (0, [])

        evidence = tmp_path / "evidence.json"
        decl_id = r.json()["declaration"]["id"]
        fetched = runner.invoke(app, ["evidence", decl_id, "-o", str(evidence), *coalition])
        assert fetched.exit_code == 0, fetched.output
        assert verify(str(evidence)) == (0, [])

        with raw_sql(settings) as db:
            rewrite_with_the_key(
                db, settings.data_dir, receipt["leaf_index"], b'"title":"CAP"', b'"title":"CAX"'
            )

        # from inside, the rewritten log is consistent: the key signed it
        assert {k for k, _ in problems_of("--data-dir", str(settings.data_dir))} == {"mismatch"}
        # the party's record is not
        found = problems_of("--data-dir", str(settings.data_dir), str(record))
        assert ("altered", f"leaf {receipt['leaf_index']}") in found
        assert any(kind == "forked" for kind, _ in found)
        again = runner.invoke(app, ["witness", "--record", str(record), *coalition])
        assert again.exit_code == 1
        assert "forked" in again.stderr


def test_a_principal_raised_to_relay_in_the_table_is_pinpointed(
    filled: Channel, db: SqlConnection
) -> None:
    (principal_id,) = db.execute("SELECT id FROM principals WHERE name = 'russia'").fetchone()
    db.execute("UPDATE principals SET role = 'relay' WHERE id = ?", (principal_id,))
    code, problems = verify("--data-dir", str(filled.data_dir))
    assert code == 1
    assert [(p["kind"], p["where"], p["detail"].rsplit(" at ", 1)[1]) for p in problems] == [
        ("mismatch", f"principal {principal_id}", "/role")
    ]


def test_revoking_is_logged_and_an_unrevoked_token_in_the_table_is_pinpointed(
    filled: Channel, db: SqlConnection
) -> None:
    (principal_id,) = db.execute("SELECT id FROM principals WHERE name = 'medics'").fetchone()
    revoke = ["admin", "revoke", principal_id, "--data-dir", str(filled.data_dir)]
    assert runner.invoke(app, revoke).exit_code == 0
    assert verify("--data-dir", str(filled.data_dir)) == (0, [])
    db.execute("UPDATE principals SET revoked_at = NULL WHERE id = ?", (principal_id,))
    assert problems_of("--data-dir", str(filled.data_dir)) == {
        ("mismatch", f"principal {principal_id}")
    }


def test_a_purge_by_retention_verifies_and_a_row_deleted_behind_its_back_is_reported(
    filled: Channel, db: SqlConnection
) -> None:
    # Deleted by hand: the hospital and its only version, with no retention entry.
    hospital_id = filled.ids["hospital"]
    (seq,) = db.execute("SELECT seq FROM declarations WHERE id = ?", (hospital_id,)).fetchone()
    for table in ("declaration_versions", "releases", "declaration_boxes", "volume_index"):
        db.execute(f"DELETE FROM {table} WHERE declaration_seq = ?", (seq,))
    db.execute("DELETE FROM declarations WHERE seq = ?", (seq,))
    code, problems = verify("--data-dir", str(filled.data_dir))
    assert code == 1
    assert [(p["kind"], p["where"]) for p in problems] == [
        ("mismatch", f"declaration {hospital_id} version 1")
    ]
    assert "no retention purged it" in problems[0]["detail"]
    # Purged by the service (the declarations of April 2017 are long done by today's clock):
    # on the record, so only the deletion by hand is still reported.
    channel = open_channel(filled.settings)
    try:
        report = channel.purger.run()
    finally:
        channel.store.close()
    assert report.declarations == 2  # the CAP and the sortie; the hospital row was gone
    assert db.execute("SELECT count(*) FROM declarations").fetchone() == (0,)
    assert problems_of("--data-dir", str(filled.data_dir)) == {
        ("mismatch", f"declaration {hospital_id} version 1")
    }


@pytest.mark.slow
def test_witness_chains_every_tree_head_it_saw_and_catches_a_truncated_log(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    channel.store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    record = tmp_path / "russia-record.json"
    russia = ["--url", url, "--token", tokens["russia"]]
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
    headers = {"Authorization": f"Bearer {tokens['russia']}"}
    with (
        running(args, port, tmp_path / "server.log"),
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        saved = []
        for n in range(3):
            body = declaration(
                "air_operation", f"Sortie {n}", volume(point(36.0 + n, 35.0), buffer_m=900)
            )
            r = client.post("/v1/declarations", json=body)
            assert r.status_code == 201
            saved.append(tmp_path / f"response-{n}.json")
            saved[-1].write_text(r.text)
        # the latest head first, then the receipts of earlier writes: each head is chained
        assert runner.invoke(app, ["witness", "--record", str(record), *russia]).exit_code == 0
        added = runner.invoke(app, ["witness", "--record", str(record), *map(str, saved), *russia])
        assert added.exit_code == 0, added.output
        kept = json.loads(record.read_text())
        sizes = [int(note.split("\n")[1]) for note in kept["checkpoints"]]
        assert sizes == sorted(set(sizes))
        assert len(sizes) == 3  # one head per write; the last is also the latest
        assert [(p["first"], p["second"]) for p in kept["consistency"]] == list(
            itertools.pairwise(sizes)
        )
        assert len(kept["receipts"]) == 3
        assert verify(str(record)) == (0, [])

        # the operator drops the last write from the log behind the running service
        last = json.loads(saved[-1].read_text())["receipt"]["leaf_index"]
        with raw_sql(settings) as db:
            db.execute("DELETE FROM ledger_leaves WHERE idx >= ?", (last,))
            db.execute("DELETE FROM ledger_nodes WHERE idx >= ? AND level = 0", (last,))
            db.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (last,))
        shrunk = runner.invoke(app, ["witness", "--record", str(record), *russia])
        assert shrunk.exit_code == 1
        assert "shrank" in shrunk.stderr
    found = problems_of("--data-dir", str(settings.data_dir), str(record))
    assert ("removed", f"leaf {last}") in found
