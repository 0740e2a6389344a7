"""The ledger's pure core: entries and who may read them, appends over an in-memory store, and
the offline checks of logs, records and evidence files (properties with hypothesis)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.audit import (
    RECORD_FORMAT,
    check_evidence,
    check_log,
    check_record,
    open_checkpoints,
)
from deconflict.conflicts import Conflict, ConflictState, Side
from deconflict.declarations import Kind, parse_new
from deconflict.disclosure import Role, Viewer, conflict_recipients
from deconflict.ledger import (
    EVERYONE,
    EVIDENCE_FORMAT,
    HIDDEN_SLOTS,
    Audience,
    Entry,
    Ledger,
    LedgerError,
    b64,
    canonical_json,
    declaration_entry,
    leaf_bytes,
    notification_entry,
    padded,
    parse_leaf,
)
from deconflict.merkle import (
    inclusion_proof,
    leaf_hash,
    root,
    stored_consistency_proof,
    stored_inclusion_proof,
    verify_inclusion,
)
from deconflict.notes import Checkpoint, SignerKey
from deconflict.notifications import Deadlines, Notification, Subject, new_notification
from deconflict.reconcile import first_difference
from deconflict.rules import ConflictKind, Severity
from factories import declaration, hospital, point, volume

NOW = datetime(2017, 4, 6, 12, tzinfo=UTC)
KEY = SignerKey.generate("test/ledger")


class MemoryLedger:
    """The ledger's part of a store transaction, in memory."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self.audiences: list[Audience] = []
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.checkpoints: dict[int, str] = {}
        self.node_writes: list[int] = []

    def ledger_size(self) -> int:
        return len(self.leaves)

    def ledger_node(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def ledger_append(
        self,
        index: int,
        leaf: bytes,
        audience: Audience,
        subjects: Sequence[str],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None:
        assert index == len(self.leaves)
        self.leaves.append(leaf)
        self.audiences.append(audience)
        self.nodes.update({(lv, i): h for lv, i, h in nodes})
        self.node_writes.append(len(nodes))

    def ledger_save_checkpoint(self, size: int, note: str) -> None:
        self.checkpoints[size] = note


def entry(n: int) -> Entry:
    return Entry("party.added", {"id": f"p{n}"}, (f"p{n}",), EVERYONE, NOW)


def decl(party: str, body: dict[str, Any], n: int = 1) -> Any:
    return parse_new(body, id=f"dcl_{party}_{n}", party=party, now=NOW)


def filled(n: int, per_write: int = 1) -> tuple[MemoryLedger, list[Any]]:
    txn, ledger, receipts = MemoryLedger(), Ledger(KEY), []
    for start in range(0, n, per_write):
        receipts.append(
            ledger.append(txn, [entry(i) for i in range(start, min(n, start + per_write))])
        )
    return txn, receipts


# entries and audiences -------------------------------------------------------------------


def test_a_leaf_is_canonical_json_with_a_16_byte_salt() -> None:
    leaf = leaf_bytes(entry(1), b"\x07" * 16)
    data = json.loads(leaf)
    assert rfc8785.dumps(data) == leaf
    assert base64.b64decode(data["salt"]) == b"\x07" * 16
    assert parse_leaf(leaf) == data


def test_the_same_entry_with_another_salt_has_another_hash() -> None:
    assert leaf_hash(leaf_bytes(entry(1), bytes(16))) != leaf_hash(
        leaf_bytes(entry(1), b"\x01" * 16)
    )


@pytest.mark.parametrize(
    "leaf",
    [
        b'{"n": 1}',
        b"not json",
        b'{"at":"x","by":null,"object":{},"salt":"","type":"t", "extra": 1}',
        # the right keys, but not in canonical order
        b'{"type":"t","at":"x","by":null,"object":{},"salt":""}',
    ],
)
def test_a_leaf_that_is_not_a_canonical_entry_is_refused(leaf: bytes) -> None:
    with pytest.raises(LedgerError):
        parse_leaf(leaf)


def test_an_operation_leaf_is_readable_by_its_party_only() -> None:
    d = decl("coalition", declaration("air_operation", "CAP", volume(point(38, 35), buffer_m=1000)))
    audience = declaration_entry(d, None, NOW, "prn_1").audience
    assert audience.admits(Viewer("coalition", Role.VIEWER))
    assert not audience.admits(Viewer("russia", Role.DUTY_OFFICER))
    assert not audience.admits(Viewer("relay", Role.RELAY))


def test_a_protected_site_leaf_is_readable_by_its_owner_the_released_and_the_relay() -> None:
    d = decl("medics", hospital(released_to=["coalition"]))
    audience = declaration_entry(d, None, NOW, None).audience
    assert {
        p for p in ("medics", "coalition", "russia") if audience.admits(Viewer(p, Role.VIEWER))
    } == {
        "medics",
        "coalition",
    }
    assert audience.admits(Viewer("un", Role.RELAY))


def test_a_coordination_measure_leaf_is_readable_by_every_party() -> None:
    d = decl(
        "relay",
        declaration("coordination_measure", "Line", volume(point(38, 35), buffer_m=500)),
    )
    assert declaration_entry(d, None, NOW, None).audience.admits(Viewer("anyone", Role.VIEWER))


def test_amending_releasing_and_cancelling_are_named_in_the_entry() -> None:
    v1 = decl("medics", hospital())
    v2 = dataclasses.replace(v1, version=2, released_to=("coalition",))
    assert declaration_entry(v1, None, NOW, None).type == "declaration.created"
    assert declaration_entry(v2, v1, NOW, None).type == "declaration.released"
    assert declaration_entry(v1, v1, NOW, None).type == "declaration.amended"


def conflict(a_sees: bool = True, b_protected: bool = False, state: str = "open") -> Conflict:
    overlap = {"geometry": {"type": "Point", "coordinates": [38.0, 35.0]}}
    return Conflict(
        id="cfl_1",
        kind=ConflictKind.AIRSPACE_CONFLICT,
        severity=Severity.HIGH,
        state=ConflictState(state),
        version=1 if state == "open" else 2,
        a=Side("dcl_a", "coalition", Kind.AIR_OPERATION, False, a_sees),
        b=Side(
            "dcl_b",
            "medics" if b_protected else "russia",
            Kind.PROTECTED_SITE if b_protected else Kind.AIR_OPERATION,
            b_protected,
            True,
        ),
        overlap=overlap,
        overlaps=(overlap,),
        detected_at=NOW,
        updated_at=NOW,
    )


def test_each_side_of_a_conflict_is_told_its_own_view() -> None:
    told = dict(conflict_recipients(conflict(), ["un"]))
    assert set(told) == {"coalition", "russia"}  # no protected object: not the relay
    assert told["coalition"]["declaration_id"] == "dcl_a"
    assert told["coalition"]["other_party"] == "russia"
    assert told["russia"]["declaration_id"] == "dcl_b"


def test_a_side_not_told_of_a_conflict_has_no_view_and_the_relay_sees_the_protected_side() -> None:
    told = dict(conflict_recipients(conflict(a_sees=False, b_protected=True), ["un"]))
    assert set(told) == {"medics", "un"}
    assert told["un"] == {**told["medics"]}


def notice(party: str = "coalition") -> Notification:
    return new_notification(
        id="ntf_1",
        party=party,
        subject=Subject.CONFLICT,
        subject_id="cfl_1",
        severity=Severity.HIGH,
        body={"id": "cfl_1"},
        now=NOW,
        deadlines=Deadlines(),
        notified=(),
        conflict_id="cfl_1",
        declaration_id="dcl_a",
    )


def test_a_notification_leaf_is_read_by_its_recipient_party_only() -> None:
    entry = notification_entry(notice(), "created", "prn_1")
    assert entry.type == "notification.created"
    assert entry.subjects == ("ntf_1", "cfl_1", "dcl_a")
    assert entry.audience.admits(Viewer("coalition", Role.VIEWER))
    assert not entry.audience.admits(Viewer("russia", Role.DUTY_OFFICER))
    assert not entry.audience.admits(Viewer("un", Role.RELAY))


def test_hidden_entries_are_padded_to_a_fixed_count_that_nobody_reads() -> None:
    hidden = [notification_entry(notice("medics"), "created", None)]
    slots = padded(hidden, NOW)
    assert len(slots) == HIDDEN_SLOTS
    assert slots[: len(hidden)] == hidden
    for pad in slots[len(hidden) :]:
        assert pad.type == "ledger.padding"
        assert not pad.audience.admits(Viewer("medics", Role.RELAY))
    assert len(padded(hidden * (HIDDEN_SLOTS + 2), NOW)) == HIDDEN_SLOTS + 2


# appending ----------------------------------------------------------------------------------


def test_every_receipt_verifies_against_its_checkpoint() -> None:
    txn, receipts = filled(37, per_write=3)
    for r in receipts:
        cp = Checkpoint.open(r.checkpoint, KEY.verifier)
        assert cp.size == r.leaf_index + min(3, 37 - r.leaf_index)
        assert r.leaf_hash == leaf_hash(txn.leaves[r.leaf_index])
        verify_inclusion(r.leaf_index, cp.size, r.leaf_hash, r.inclusion, cp.root)


def test_the_stored_nodes_give_the_roots_and_proofs_of_the_whole_tree() -> None:
    txn, _ = filled(100)
    hashes = [leaf_hash(x) for x in txn.leaves]
    note = txn.checkpoints[100]
    assert Checkpoint.open(note, KEY.verifier).root == root(hashes)
    assert stored_inclusion_proof(txn.ledger_node, 41, 100) == inclusion_proof(hashes, 41)


def test_an_append_writes_at_most_log2_n_plus_1_nodes() -> None:
    txn, _ = filled(1024)
    assert max(txn.node_writes) == 11  # the 1024th leaf completes the tree: 1 + log2(1024)
    assert sum(txn.node_writes) == 2 * 1024 - 1  # every node of a perfect tree, once


def test_an_empty_write_appends_nothing() -> None:
    txn = MemoryLedger()
    assert Ledger(KEY).append(txn, []) is None
    assert txn.leaves == []
    assert txn.checkpoints == {}


# offline checks -----------------------------------------------------------------------------


def log_problems(leaves: list[bytes], notes: list[str]) -> list[str]:
    checkpoints, problems = open_checkpoints(notes, KEY.verifier)
    return [p.kind for p in problems + check_log(enumerate(leaves), checkpoints)]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.data())
def test_any_changed_byte_dropped_or_swapped_leaf_fails_the_log_check(
    n: int, data: st.DataObject
) -> None:
    txn, _ = filled(n, per_write=data.draw(st.integers(1, 5)))
    notes = list(txn.checkpoints.values())
    assert log_problems(txn.leaves, notes) == []
    leaves = list(txn.leaves)
    how = data.draw(st.sampled_from(["byte", "drop", "swap"]))
    i = data.draw(st.integers(0, n - 1))
    if how == "byte":
        pos = data.draw(st.integers(0, len(leaves[i]) - 1))
        leaves[i] = leaves[i][:pos] + bytes([leaves[i][pos] ^ 1]) + leaves[i][pos + 1 :]
    elif how == "drop":
        del leaves[i]
    else:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: leaves[j] != leaves[i]))
        leaves[i], leaves[j] = leaves[j], leaves[i]
    assert log_problems(leaves, notes) != []


def test_a_forked_checkpoint_names_the_range_of_leaves_that_changed() -> None:
    txn, _ = filled(20, per_write=4)
    leaves = list(txn.leaves)
    leaves[9] = leaf_bytes(entry(999), bytes(16))
    checkpoints, _ = open_checkpoints(txn.checkpoints.values(), KEY.verifier)
    problems = check_log(enumerate(leaves), checkpoints)
    assert [(p.kind, p.where) for p in problems][:1] == [("forked", "checkpoint 12")]
    assert problems[0].detail.endswith("the change is among leaves 8 to 11")


def test_a_checkpoint_of_another_key_is_refused() -> None:
    other = SignerKey.generate("test/ledger")
    note = Checkpoint("test/ledger", 1, hashlib.sha256(b"x").digest()).sign(other)
    checkpoints, problems = open_checkpoints([note], KEY.verifier)
    assert checkpoints == []
    assert [p.kind for p in problems] == ["signature"]


def record(txn: MemoryLedger, sizes: list[int], receipts: list[Any]) -> dict[str, Any]:
    consistency = [
        {
            "first": a,
            "second": b,
            "hashes": [b64(h) for h in stored_consistency_proof(txn.ledger_node, a, b)],
        }
        for a, b in itertools.pairwise(sizes)
    ]
    return {
        "format": RECORD_FORMAT,
        "verifier_key": KEY.verifier.to_text(),
        "checkpoints": [txn.checkpoints[s] for s in sizes],
        "consistency": consistency,
        "receipts": [r.to_json() for r in receipts],
    }


def test_a_party_record_verifies_and_a_tampered_proof_does_not() -> None:
    txn, receipts = filled(30, per_write=2)
    rec = record(txn, [4, 10, 30], receipts[:3])
    assert check_record(rec, None) == []
    bad = json.loads(json.dumps(rec))
    proof = base64.b64decode(bad["consistency"][1]["hashes"][0])
    bad["consistency"][1]["hashes"][0] = b64(bytes([proof[0] ^ 1]) + proof[1:])
    assert [(p.kind, p.where) for p in check_record(bad, None)] == [
        ("forked", "checkpoints 10 and 30")
    ]
    del bad["consistency"][1]
    assert [p.kind for p in check_record(bad, None)] == ["proof"]


def test_a_party_record_finds_the_leaf_a_log_changed_after_its_receipt() -> None:
    txn, receipts = filled(12, per_write=1)
    rec = record(txn, [12], receipts)
    log = list(txn.leaves)
    log[5] = leaf_bytes(entry(555), bytes(16))
    found = {(p.kind, p.where) for p in check_record(rec, None, lambda: enumerate(log))}
    assert ("altered", "leaf 5") in found
    assert ("forked", "checkpoint 12") in found


def evidence(txn: MemoryLedger, indexes: list[int], subject: str) -> dict[str, Any]:
    size = txn.ledger_size()
    return {
        "format": EVIDENCE_FORMAT,
        "subject": subject,
        "verifier_key": KEY.verifier.to_text(),
        "checkpoint": txn.checkpoints[size],
        "entries": [
            {
                "leaf_index": i,
                "leaf": b64(txn.leaves[i]),
                "inclusion": [b64(h) for h in stored_inclusion_proof(txn.ledger_node, i, size)],
            }
            for i in indexes
        ],
    }


def test_an_evidence_file_verifies_and_an_edited_entry_does_not() -> None:
    txn, _ = filled(9)
    good = evidence(txn, [3], "p3")
    assert check_evidence(good, KEY.verifier) == []
    edited = json.loads(json.dumps(good))
    edited["entries"][0]["leaf"] = b64(leaf_bytes(entry(3), b"\x01" * 16))
    assert [p.kind for p in check_evidence(edited, KEY.verifier)] == ["proof"]
    assert [p.kind for p in check_evidence(evidence(txn, [4], "p3"), KEY.verifier)] == ["mismatch"]


def test_an_evidence_file_signed_by_another_key_fails_against_the_trusted_one() -> None:
    txn, _ = filled(3)
    file = evidence(txn, [0], "p0")
    assert [p.kind for p in check_evidence(file, SignerKey.generate("test/ledger").verifier)] == [
        "signature"
    ]


@pytest.mark.parametrize(
    ("a", "b", "pointer"),
    [
        ({"a": 1}, {"a": 1.0}, None),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, "/a/2"),
        ({"a/b": 1}, {"a/b": 2}, "/a~1b"),
        ({"a": True}, {"a": 1}, "/a"),
        (1, 2, "/"),
    ],
)
def test_first_difference_is_a_json_pointer(a: Any, b: Any, pointer: str | None) -> None:
    assert first_difference(a, b) == pointer


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats()
    | st.floats(-1e-3, 1e-3)
    | st.floats(1e15, 1e22)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_writes_exactly_what_rfc8785_writes(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError) as exc:
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected
