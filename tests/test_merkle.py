"""The Merkle tree of the ledger against RFC 6962/9162 reference data, and its properties.

The proof vectors are those of the transparency-dev/merkle project (Apache-2.0), kept in
shared/data/merkle-testdata beside the repository: every valid proof must verify and every
mutated one must be refused. They are built on the RFC 6962 reference tree, whose eight leaves
are below, so proofs this module generates can be compared with the published ones.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.merkle import (
    ProofError,
    appended_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    stored_consistency_proof,
    stored_inclusion_proof,
    stored_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "data" / "merkle-testdata"

# The leaves of the RFC 6962 reference tree (certificate-transparency test data), in hex.
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_HASHES = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
EIGHT_LEAF_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).rglob("*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return found


def b64(value: Any) -> bytes:
    return base64.b64decode(value or "")


def proof_of(case: dict[str, Any]) -> list[bytes]:
    return [b64(p) for p in case["proof"] or []]


def test_the_reference_tree_has_the_published_root() -> None:
    assert root(REFERENCE_HASHES).hex() == EIGHT_LEAF_ROOT
    assert root(REFERENCE_HASHES[:1]) == leaf_hash(b"")
    assert root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("path", cases("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())

    def verify() -> None:
        verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            b64(case["leafHash"]),
            proof_of(case),
            b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", cases("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())

    def verify() -> None:
        verify_consistency(
            case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof_of(case)
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


def test_generated_proofs_are_the_published_ones() -> None:
    compared = 0
    for path in cases("inclusion") + cases("consistency"):
        case = json.loads(path.read_text())
        if case["wantErr"]:
            continue
        if "leafIdx" in case:
            size, index = case["treeSize"], case["leafIdx"]
            if 0 < size <= 8 and b64(case["root"]) == root(REFERENCE_HASHES[:size]):
                assert inclusion_proof(REFERENCE_HASHES[:size], index) == proof_of(case), path
                compared += 1
        elif 0 < case["size2"] <= 8 and b64(case["root2"]) == root(
            REFERENCE_HASHES[: case["size2"]]
        ):
            generated = consistency_proof(REFERENCE_HASHES[: case["size2"]], case["size1"])
            assert generated == proof_of(case), path
            compared += 1
    assert compared >= 10


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_every_inclusion_proof_verifies(leaves: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    top = root(hashes)
    for i, h in enumerate(hashes):
        verify_inclusion(i, len(hashes), h, inclusion_proof(hashes, i), top)


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_every_consistency_proof_verifies(leaves: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    top = root(hashes)
    for m in range(1, len(hashes) + 1):
        verify_consistency(m, len(hashes), root(hashes[:m]), top, consistency_proof(hashes, m))


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_an_altered_leaf_fails_verification(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    i = data.draw(st.integers(0, len(leaves) - 1))
    original = leaves[i] or b"\x00"
    byte = data.draw(st.integers(0, len(original) - 1))
    altered = bytearray(original)
    altered[byte] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ProofError):
        verify_inclusion(
            i, len(hashes), leaf_hash(bytes(altered)), inclusion_proof(hashes, i), root(hashes)
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=20), min_size=2, max_size=40, unique=True), st.data())
def test_dropped_or_swapped_leaves_break_consistency(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    n = len(hashes)
    i, j = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
    swapped = hashes.copy()
    swapped[i], swapped[j] = swapped[j], swapped[i]
    dropped = hashes[:i] + hashes[i + 1 :]
    for rewritten in (swapped, dropped):
        m = len(rewritten)
        # The log as recorded before (its first j leaves) is no prefix of the rewritten one.
        first = min(j + 1, n)
        if first > m:
            continue
        with pytest.raises(ProofError):
            verify_consistency(
                first, m, root(hashes[:first]), root(rewritten), consistency_proof(rewritten, first)
            )


class NodeStore:
    """The nodes a log keeps, filled only through ``appended_nodes``; counts its look-ups."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.lookups = 0

    def lookup(self, level: int, index: int) -> bytes:
        self.lookups += 1
        return self.nodes[(level, index)]

    def append(self, leaf: bytes) -> None:
        for level, index, value in appended_nodes(self.size, leaf, self.lookup):
            self.nodes[(level, index)] = value
        self.size += 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=80), st.data())
def test_a_log_of_stored_nodes_gives_the_reference_roots_and_proofs(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    log = NodeStore()
    for h in hashes:
        log.append(h)
        assert stored_root(log.lookup, log.size) == root(hashes[: log.size])
    n = len(hashes)
    size = data.draw(st.integers(1, n))
    for i in range(size):
        assert stored_inclusion_proof(log.lookup, i, size) == inclusion_proof(hashes[:size], i)
    for m in range(size + 1):
        assert stored_consistency_proof(log.lookup, m, size) == consistency_proof(hashes[:size], m)


def test_roots_and_proofs_need_few_node_lookups() -> None:
    log = NodeStore()
    n = 100_003
    for i in range(n):
        log.append(leaf_hash(i.to_bytes(4, "big")))
    assert log.lookups <= n  # appending: one look-up per node it completes, at most n in all
    depth = n.bit_length()
    for measure in (
        lambda: stored_root(log.lookup, n),
        lambda: stored_inclusion_proof(log.lookup, 77_777, n),
        lambda: stored_consistency_proof(log.lookup, 65_537, n),
    ):
        log.lookups = 0
        measure()
        assert log.lookups <= depth * depth
