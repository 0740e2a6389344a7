"""The ledger through the HTTP API, checked as an outside verifier would: receipts, proofs,
conflict leaves and evidence files verify with nothing but the published key and RFC 9162.

Leaf hashes are recomputed here with hashlib rather than taken from the code under test.
Who may read what is in test_need_to_know.py; malformed parameters in test_bad_input.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import rfc8785

from conftest import Api
from deconflict.ledger import HIDDEN_SLOTS
from deconflict.merkle import ProofError, verify_consistency, verify_inclusion
from deconflict.notes import Checkpoint, NoteError, VerifierKey
from factories import declaration, point, volume

LEDGER = "/v1/ledger"
LEAF_KEYS = {"type", "at", "by", "object", "salt"}


def air_op(lon: float, lat: float = 35.0) -> dict[str, Any]:
    return declaration("air_operation", "CAP", volume(point(lon, lat), buffer_m=2_000))


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def rfc9162_leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 section 2.1.1: SHA-256 of 0x00 followed by the leaf."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def flipped(raw: bytes, at: int = 0) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def me(api: Api, who: str) -> str:
    principal_id: str = api.get(who, "/v1/me").json()["id"]
    return principal_id


def verifier(api: Api) -> VerifierKey:
    r = api.get("coalition", f"{LEDGER}/key")
    assert r.status_code == 200, r.text
    return VerifierKey.from_text(r.text.strip())


def latest_checkpoint(api: Api, who: str = "coalition") -> tuple[str, Checkpoint]:
    r = api.get(who, f"{LEDGER}/checkpoint")
    assert r.status_code == 200, r.text
    return r.text, Checkpoint.open(r.text, verifier(api))


def read_leaf(api: Api, who: str, index: int) -> bytes:
    r = api.get(who, f"{LEDGER}/leaves/{index}")
    assert r.status_code == 200, r.text
    assert r.json()["index"] == index
    return unb64(r.json()["leaf"])


def inclusion(api: Api, leaf_index: int, tree_size: int) -> list[bytes]:
    params = {"leaf_index": leaf_index, "tree_size": tree_size}
    r = api.get("russia", f"{LEDGER}/inclusion", params=params)
    assert r.status_code == 200, r.text
    assert (r.json()["leaf_index"], r.json()["tree_size"]) == (leaf_index, tree_size)
    return [unb64(h) for h in r.json()["hashes"]]


def consistency(api: Api, first: int, second: int) -> list[bytes]:
    r = api.get("russia", f"{LEDGER}/consistency", params={"first": first, "second": second})
    assert r.status_code == 200, r.text
    assert (r.json()["first"], r.json()["second"]) == (first, second)
    return [unb64(h) for h in r.json()["hashes"]]


def verified_entry(api: Api, who: str, receipt: dict[str, Any]) -> dict[str, Any]:
    """Check a write's receipt against the leaf ``who`` can fetch and the published key; return
    the entry the leaf holds."""
    leaf = read_leaf(api, who, receipt["leaf_index"])
    digest = unb64(receipt["leaf_hash"])
    assert digest == rfc9162_leaf_hash(leaf)
    checkpoint = Checkpoint.open(receipt["checkpoint"], verifier(api))
    proof = [unb64(h) for h in receipt["inclusion"]]
    verify_inclusion(receipt["leaf_index"], checkpoint.size, digest, proof, checkpoint.root)
    entry: dict[str, Any] = json.loads(leaf)
    assert set(entry) == LEAF_KEYS
    return entry


# Receipts ----------------------------------------------------------------------------------------


def test_a_declarations_receipt_proves_its_leaf_is_in_the_signed_log(api: Api) -> None:
    r = api.declare("coalition", air_op(39.0))
    entry = verified_entry(api, "coalition", r["receipt"])
    assert entry["type"] == "declaration.created"
    assert entry["object"] == r["declaration"]
    assert entry["by"] == me(api, "coalition")


def test_an_amendments_receipt_proves_the_amended_declaration_is_in_the_log(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    r = api.patch("coalition", f"/v1/declarations/{mine['id']}", {"title": "CAP 2"}, version=1)
    assert r.status_code == 200, r.text
    entry = verified_entry(api, "coalition", r.json()["receipt"])
    assert entry["type"] == "declaration.amended"
    assert entry["object"] == r.json()["declaration"]
    assert entry["object"]["title"] == "CAP 2"
    assert entry["by"] == me(api, "coalition")


def test_a_cancellations_receipt_proves_the_cancelled_declaration_is_in_the_log(
    api: Api,
) -> None:
    mine = api.declare("russia", air_op(39.0))["declaration"]
    r = api.delete("russia", f"/v1/declarations/{mine['id']}", version=1)
    assert r.status_code == 200, r.text
    entry = verified_entry(api, "russia", r.json()["receipt"])
    assert entry["type"] == "declaration.cancelled"
    assert entry["object"] == r.json()["declaration"]
    assert entry["object"]["state"] == "cancelled"
    assert entry["by"] == me(api, "russia")


def test_a_leaf_is_canonical_json_with_16_bytes_of_salt(api: Api) -> None:
    receipt = api.declare("coalition", air_op(39.0))["receipt"]
    leaf = read_leaf(api, "coalition", receipt["leaf_index"])
    entry = json.loads(leaf)
    assert rfc8785.dumps(entry) == leaf
    assert len(unb64(entry["salt"])) == 16


def test_identical_declarations_get_different_salts_and_leaf_hashes(api: Api) -> None:
    receipts = [api.declare("coalition", air_op(39.0))["receipt"] for _ in range(2)]
    salts = [json.loads(read_leaf(api, "coalition", r["leaf_index"]))["salt"] for r in receipts]
    assert salts[0] != salts[1]
    assert receipts[0]["leaf_hash"] != receipts[1]["leaf_hash"]


def test_a_checkpoint_with_its_size_changed_does_not_open(api: Api) -> None:
    receipt = api.declare("coalition", air_op(39.0))["receipt"]
    origin, size, rest = receipt["checkpoint"].split("\n", 2)
    forged = f"{origin}\n{int(size) + 1}\n{rest}"
    with pytest.raises(NoteError):
        Checkpoint.open(forged, verifier(api))


# Proofs ------------------------------------------------------------------------------------------


def test_an_older_leaf_is_included_in_a_later_checkpoint(api: Api) -> None:
    first = api.declare("coalition", air_op(39.0))["receipt"]
    for lon in (40.0, 41.0, 42.0):
        api.declare("russia", air_op(lon))
    _, later = latest_checkpoint(api)
    # each declaration: its leaf and its slots for conflicts hidden from its writer
    assert later.size == first["leaf_index"] + 4 * (1 + HIDDEN_SLOTS)
    proof = inclusion(api, first["leaf_index"], later.size)
    verify_inclusion(first["leaf_index"], later.size, unb64(first["leaf_hash"]), proof, later.root)


def test_every_leaf_a_party_can_read_is_in_the_latest_checkpoint(api: Api) -> None:
    api.declare("coalition", air_op(39.0))
    api.declare("russia", air_op(39.05))
    _, latest = latest_checkpoint(api)
    readable = 0
    for index in range(latest.size):
        r = api.get("coalition", f"{LEDGER}/leaves/{index}")
        if r.status_code == 404:
            continue
        readable += 1
        digest = rfc9162_leaf_hash(unb64(r.json()["leaf"]))
        verify_inclusion(
            index, latest.size, digest, inclusion(api, index, latest.size), latest.root
        )
    # 4 parties, 2 coalition principals, its declaration and its view of the conflict
    assert readable == 8


def test_later_checkpoints_are_consistent_with_earlier_ones(api: Api) -> None:
    _, start = latest_checkpoint(api)
    heads = [start]
    for lon in (39.0, 39.05, 45.0, 46.0, 47.0):
        receipt = api.declare("russia" if lon == 39.05 else "coalition", air_op(lon))["receipt"]
        heads.append(Checkpoint.open(receipt["checkpoint"], verifier(api)))
    assert len({h.size for h in heads}) == len(heads)
    for i, old in enumerate(heads):
        for new in heads[i:]:
            verify_consistency(
                old.size, new.size, old.root, new.root, consistency(api, old.size, new.size)
            )


def test_a_proof_or_leaf_with_one_byte_changed_fails_to_verify(api: Api) -> None:
    _, before = latest_checkpoint(api)
    receipt = api.declare("coalition", air_op(39.0))["receipt"]
    api.declare("coalition", air_op(45.0))
    _, after = latest_checkpoint(api)
    index, digest = receipt["leaf_index"], unb64(receipt["leaf_hash"])
    leaf = read_leaf(api, "coalition", index)

    path = inclusion(api, index, after.size)
    verify_inclusion(index, after.size, digest, path, after.root)
    assert path
    for i, node in enumerate(path):
        for at in (0, len(node) - 1):
            bad = [*path[:i], flipped(node, at), *path[i + 1 :]]
            with pytest.raises(ProofError):
                verify_inclusion(index, after.size, digest, bad, after.root)
    for at in (0, len(leaf) // 2, len(leaf) - 1):
        with pytest.raises(ProofError):
            verify_inclusion(
                index, after.size, rfc9162_leaf_hash(flipped(leaf, at)), path, after.root
            )

    proof = consistency(api, before.size, after.size)
    verify_consistency(before.size, after.size, before.root, after.root, proof)
    assert proof
    for i, node in enumerate(proof):
        bad = [*proof[:i], flipped(node, 7), *proof[i + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(before.size, after.size, before.root, after.root, bad)


# Conflicts ---------------------------------------------------------------------------------------


def conflict_leaf_indexes(api: Api) -> tuple[str, dict[str, int]]:
    """Coalition's and russia's overlapping operations: the conflict id and, for each party,
    the leaf index of its view, found through its evidence file."""
    api.declare("coalition", air_op(39.0))
    (conflict,) = api.declare("russia", air_op(39.05))["conflicts"]
    indexes = {}
    for who in ("coalition", "russia"):
        r = api.get(who, f"{LEDGER}/evidence/{conflict['id']}")
        assert r.status_code == 200, r.text
        (entry,) = r.json()["entries"]
        indexes[who] = entry["leaf_index"]
    return conflict["id"], indexes


def test_each_party_reads_the_leaf_of_its_own_view_of_a_conflict(api: Api) -> None:
    conflict_id, indexes = conflict_leaf_indexes(api)
    assert indexes["coalition"] != indexes["russia"]
    for who, index in indexes.items():
        entry = json.loads(read_leaf(api, who, index))
        # the party's notification of the conflict is its view of it, on the record
        assert entry["type"] == "notification.created"
        assert entry["by"] == me(api, "russia")
        assert entry["object"]["body"] == api.get(who, f"/v1/conflicts/{conflict_id}").json()
        assert entry["object"]["party"] == who
        assert entry["object"]["conflict_id"] == conflict_id


def test_neither_party_reads_the_other_partys_view_of_a_conflict(api: Api) -> None:
    _, indexes = conflict_leaf_indexes(api)
    assert api.get("russia", f"{LEDGER}/leaves/{indexes['coalition']}").status_code == 404
    assert api.get("coalition", f"{LEDGER}/leaves/{indexes['russia']}").status_code == 404
    for who in ("medics", "relay"):
        for index in indexes.values():
            assert api.get(who, f"{LEDGER}/leaves/{index}").status_code == 404


# Evidence ----------------------------------------------------------------------------------------


def test_every_entry_of_an_evidence_file_verifies_against_its_checkpoint(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    api.declare("russia", air_op(39.05))
    moved = {"volumes": air_op(39.01)["volumes"]}
    r = api.patch("coalition", f"/v1/declarations/{mine['id']}", moved, version=1)
    assert r.status_code == 200, r.text
    api.declare("russia", air_op(45.0))
    r = api.get("coalition", f"{LEDGER}/evidence/{mine['id']}")
    assert r.status_code == 200, r.text
    evidence = r.json()
    assert evidence["format"] == "deconflict-evidence/1"
    assert evidence["subject"] == mine["id"]
    assert evidence["verifier_key"] == api.get("russia", f"{LEDGER}/key").text.strip()
    key = VerifierKey.from_text(evidence["verifier_key"])
    checkpoint = Checkpoint.open(evidence["checkpoint"], key)
    types = []
    for entry in evidence["entries"]:
        leaf = unb64(entry["leaf"])
        proof = [unb64(h) for h in entry["inclusion"]]
        verify_inclusion(
            entry["leaf_index"], checkpoint.size, rfc9162_leaf_hash(leaf), proof, checkpoint.root
        )
        assert leaf == read_leaf(api, "coalition", entry["leaf_index"])
        types.append(json.loads(leaf)["type"])
    # moving the operation changes the overlap: the conflict's notification is revised
    assert sorted(types) == sorted(
        [
            "declaration.created",
            "notification.created",
            "declaration.amended",
            "notification.revised",
        ]
    )


def test_evidence_of_a_declaration_holds_its_created_and_amended_entries(api: Api) -> None:
    created = api.declare("coalition", air_op(39.0))
    url = f"/v1/declarations/{created['declaration']['id']}"
    amended = api.patch("coalition", url, {"title": "CAP 2"}, version=1).json()
    evidence = api.get("coalition", f"{LEDGER}/evidence/{created['declaration']['id']}").json()
    entries = [(e["leaf_index"], json.loads(unb64(e["leaf"]))) for e in evidence["entries"]]
    assert [(i, e["type"], e["object"]) for i, e in entries] == [
        (created["receipt"]["leaf_index"], "declaration.created", created["declaration"]),
        (amended["receipt"]["leaf_index"], "declaration.amended", amended["declaration"]),
    ]


def test_evidence_names_the_principal_who_exported_it(api: Api) -> None:
    mine = api.declare("coalition", air_op(39.0))["declaration"]
    evidence = api.get("coalition_viewer", f"{LEDGER}/evidence/{mine['id']}").json()
    assert evidence["exported_by"] == {
        "principal": me(api, "coalition_viewer"),
        "party": "coalition",
    }
    (entry,) = evidence["entries"]
    assert json.loads(unb64(entry["leaf"]))["by"] == me(api, "coalition")


def test_a_receipt_covers_the_conflict_leaves_written_with_it(api: Api) -> None:
    api.declare("coalition", air_op(39.0))
    written = api.declare("russia", air_op(39.05))
    (conflict,) = written["conflicts"]
    entry = verified_entry(api, "russia", written["receipt"])
    assert entry["object"] == written["declaration"]
    checkpoint = Checkpoint.open(written["receipt"]["checkpoint"], verifier(api))
    index = written["receipt"]["leaf_index"]
    views = [
        e["leaf_index"]
        for who in ("coalition", "russia")
        for e in api.get(who, f"{LEDGER}/evidence/{conflict['id']}").json()["entries"]
    ]
    # the declaration's leaf comes first, then one leaf for each party's view, then the slots
    # for conflicts hidden from the writer (padding here)
    assert sorted(views) == [index + 1, index + 2]
    assert checkpoint.size == index + 3 + HIDDEN_SLOTS
