"""Merkle tree hashing and proofs as RFC 9162 (Certificate Transparency v2) defines them.

Pure functions over leaf hashes. ``leaf_hash`` is SHA-256(0x00 || leaf) and ``node_hash`` is
SHA-256(0x01 || left || right); the tree over n leaves splits at the largest power of two below
n. Proof generation follows RFC 9162 section 2.1.3.1 (PATH) and 2.1.4.1 (PROOF/SUBPROOF);
verification follows 2.1.3.2 and 2.1.4.2, and raises :class:`ProofError` on any mismatch.

>>> leaves = [leaf_hash(bytes([i])) for i in range(5)]
>>> verify_inclusion(3, 5, leaves[3], inclusion_proof(leaves, 3), root(leaves))
>>> verify_consistency(2, 5, root(leaves[:2]), root(leaves), consistency_proof(leaves, 2))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "NodeLookup",
    "ProofError",
    "appended_nodes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_root",
    "root",
    "root_from_inclusion",
    "stored_consistency_proof",
    "stored_inclusion_proof",
    "stored_root",
    "verify_consistency",
    "verify_inclusion",
]


_HASH_SIZE = 32


class ProofError(ValueError):
    """A proof does not prove what it claims."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the empty tree's root is SHA-256 of nothing."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first ``first`` leaves is a prefix of this one."""
    if not 0 <= first <= len(leaves):
        raise ValueError(f"a tree of {len(leaves)} has no prefix of {first}")
    if first in (0, len(leaves)):
        return []
    return _subproof(first, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """RFC 9162 2.1.3.2: ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size``."""
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofError("the proof leads to another root")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that an inclusion proof of ``leaf`` leads to (RFC 9162 2.1.3.2 without the
    final comparison); :class:`ProofError` if the proof cannot be one for this tree."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    if len(leaf) != _HASH_SIZE:
        raise ProofError(f"a leaf hash is {_HASH_SIZE} bytes, not {len(leaf)}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return r


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {second} has no prefix of {first}")
    if first == 0:
        raise ProofError("every log extends the empty one: consistency with it proves nothing")
    if first == second:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if first_root != second_root:
            raise ProofError("two roots for one tree size")
        return
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a whole subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the trees are deep")
    if fr != first_root:
        raise ProofError("the proof leads to another first root")
    if sr != second_root:
        raise ProofError("the proof leads to another second root")


# Trees kept as stored nodes ------------------------------------------------------------------
# A log stores the hash of every *perfect* subtree it has completed, by (level, index): level 0
# holds the leaf hashes, and node (level, i) covers leaves [i * 2**level, (i + 1) * 2**level).
# Appending a leaf completes at most log2(n) such nodes; any root or proof is assembled from
# O(log n) of them, so neither needs the leaves.

NodeLookup = Callable[[int, int], bytes]
"""``lookup(level, index)``: the hash of a perfect subtree the log has completed."""


def appended_nodes(size: int, leaf: bytes, lookup: NodeLookup) -> list[tuple[int, int, bytes]]:
    """The nodes (level, index, hash) that appending ``leaf`` to a log of ``size`` completes,
    the leaf itself first."""
    nodes = [(0, size, leaf)]
    level, index, value = 0, size, leaf
    while index & 1:
        value = node_hash(lookup(level, index - 1), value)
        level, index = level + 1, index >> 1
        nodes.append((level, index, value))
    return nodes


def range_root(lookup: NodeLookup, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) as the RFC 9162 tree of the whole log splits them."""
    n = end - start
    if n <= 0:
        raise ValueError("an empty range has no root here")
    if n & (n - 1) == 0 and start % n == 0:
        return lookup(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(range_root(lookup, start, start + k), range_root(lookup, start + k, end))


def stored_root(lookup: NodeLookup, size: int) -> bytes:
    return hashlib.sha256(b"").digest() if size == 0 else range_root(lookup, 0, size)


def stored_inclusion_proof(lookup: NodeLookup, index: int, size: int) -> list[bytes]:
    """:func:`inclusion_proof` of leaf ``index`` in the log's first ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(range_root(lookup, start + k, end))
            end = start + k
        else:
            proof.append(range_root(lookup, start, start + k))
            start += k
    return proof[::-1]


def stored_consistency_proof(lookup: NodeLookup, first: int, size: int) -> list[bytes]:
    """:func:`consistency_proof` between the log's first ``first`` and ``size`` leaves."""
    if not 0 <= first <= size:
        raise ValueError(f"a tree of {size} has no prefix of {first}")
    if first in (0, size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, size, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(range_root(lookup, start + k, end))
            end = start + k
        else:
            proof.append(range_root(lookup, start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(range_root(lookup, start, end))
    return proof[::-1]
