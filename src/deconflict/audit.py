"""Checking the ledger from outside: an exported log, an evidence file, a party's own record of
receipts and tree heads, and the service's tables against the log.

Pure: each check takes documents and returns every :class:`Problem` it finds, each pinned to the
leaf, checkpoint, receipt or object it concerns. An empty list means everything verified.

>>> from deconflict.notes import SignerKey
>>> key = SignerKey.generate("example/log")
>>> from datetime import UTC, datetime
>>> from deconflict.ledger import EVERYONE, Entry, leaf_bytes
>>> at = datetime(2026, 1, 1, tzinfo=UTC)
>>> entries = [Entry("party.added", {"id": p}, (p,), EVERYONE, at) for p in ("un", "icrc")]
>>> leaves = [leaf_bytes(e, bytes(16)) for e in entries]
>>> note = Checkpoint("example/log", 2, root([leaf_hash(x) for x in leaves])).sign(key)
>>> checkpoints, _ = open_checkpoints([note], key.verifier)
>>> check_log(enumerate(leaves), checkpoints)
[]
>>> for problem in check_log(enumerate(leaves[::-1]), checkpoints):
...     print(problem.kind, problem.where)
forked checkpoint 2
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deconflict.ledger import (
    EVIDENCE_FORMAT,
    LedgerError,
    b64,
    parse_leaf,
)
from deconflict.merkle import (
    ProofError,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from deconflict.notes import Checkpoint, NoteError, VerifierKey

__all__ = [
    "LOG_FORMAT",
    "RECORD_FORMAT",
    "Problem",
    "check_evidence",
    "check_log",
    "check_record",
    "open_checkpoints",
]

LOG_FORMAT = "deconflict-log/1"
RECORD_FORMAT = "deconflict-record/1"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    """altered, removed, reordered, forked, signature, proof, malformed or mismatch"""
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "detail": self.detail}


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not standard base64") from None


def open_checkpoints(
    notes: Iterable[str], verifier: VerifierKey
) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints that ``verifier`` signed for its own log, by size; a problem for every
    other one."""
    opened: list[Checkpoint] = []
    problems: list[Problem] = []
    for i, note in enumerate(notes):
        try:
            cp = Checkpoint.open(note, verifier)
        except NoteError as exc:
            problems.append(Problem("signature", f"checkpoint #{i + 1}", str(exc)))
            continue
        if cp.origin != verifier.name:
            problems.append(Problem("signature", f"checkpoint {cp.size}", "of another log"))
            continue
        opened.append(cp)
    opened.sort(key=lambda c: c.size)
    for a, b in itertools.pairwise(opened):
        if a.size == b.size and a.root != b.root:
            problems.append(
                Problem("forked", f"checkpoint {a.size}", "two signed roots for one tree size")
            )
    return opened, problems


class _Frontier:
    """The roots of the perfect subtrees of a growing tree: its root in O(log n)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), left to right
        self.size = 0

    def push(self, digest: bytes) -> None:
        height, value = 0, digest
        while self._stack and self._stack[-1][0] == height:
            value = node_hash(self._stack.pop()[1], value)
            height += 1
        self._stack.append((height, value))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return root([])
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def check_log(
    leaves: Iterable[tuple[int, bytes]],
    checkpoints: Sequence[Checkpoint],
    *,
    stored_hashes: Mapping[int, bytes] | None = None,
) -> list[Problem]:
    """A log's (index, leaf) pairs, in order, against its signed checkpoints and, when the
    store keeps them, against the leaf hashes stored when each leaf was appended."""
    problems: list[Problem] = []
    by_hash = {h: i for i, h in (stored_hashes or {}).items()}
    frontier = _Frontier()
    pending = sorted(checkpoints, key=lambda c: c.size)
    good, forks = 0, 0
    for index, leaf in leaves:
        if index != frontier.size:
            first, last = frontier.size, index - 1
            span = f"leaves {first} to {last}" if last > first else f"leaf {first}"
            problems.append(Problem("removed", span, "missing from the log"))
        digest = leaf_hash(leaf)
        try:
            parse_leaf(leaf)
        except LedgerError as exc:
            problems.append(Problem("malformed", f"leaf {index}", str(exc)))
        if stored_hashes is not None and stored_hashes.get(index) != digest:
            was = by_hash.get(digest)
            problems.append(
                Problem("reordered", f"leaf {index}", f"holds the entry appended as leaf {was}")
                if was is not None and was != index
                else Problem(
                    "altered", f"leaf {index}", "its bytes do not hash to the hash stored for it"
                )
            )
        frontier.push(digest)
        while pending and pending[0].size == frontier.size:
            cp = pending.pop(0)
            if cp.root == frontier.root():
                good = cp.size
            elif not forks:
                forks += 1
                problems.append(
                    Problem(
                        "forked",
                        f"checkpoint {cp.size}",
                        f"the log's first {cp.size} leaves hash to another root than the signed"
                        f" one: the change is among leaves {good} to {cp.size - 1}",
                    )
                )
            else:
                forks += 1
    if forks > 1:
        problems.append(
            Problem("forked", "later checkpoints", f"{forks - 1} more do not match either")
        )
    for cp in pending:
        if cp.size > frontier.size:
            problems.append(
                Problem(
                    "removed",
                    f"checkpoint {cp.size}",
                    f"it was signed over {cp.size} leaves but the log has {frontier.size}:"
                    f" leaves {frontier.size} to {cp.size - 1} are gone",
                )
            )
        elif cp.size == 0 and cp.root != root([]):
            problems.append(Problem("forked", "checkpoint 0", "the empty tree's root is wrong"))
    return problems


def _proof(hashes: Any, what: str) -> list[bytes]:
    if not isinstance(hashes, list):
        raise TypeError(f"{what} is not a list")
    return [_unb64(h, what) for h in hashes]


def check_evidence(evidence: Mapping[str, Any], trusted: VerifierKey | None) -> list[Problem]:
    """An evidence file: its checkpoint's signature, each entry's inclusion and that each entry
    is about the file's subject. Without a ``trusted`` key the file's own key is used."""
    if evidence.get("format") != EVIDENCE_FORMAT:
        return [Problem("malformed", "file", f"not a {EVIDENCE_FORMAT} file")]
    try:
        key = trusted or VerifierKey.from_text(str(evidence["verifier_key"]))
        checkpoint = Checkpoint.open(str(evidence["checkpoint"]), key)
    except (KeyError, NoteError) as exc:
        return [Problem("signature", "checkpoint", str(exc))]
    problems: list[Problem] = []
    subject = evidence.get("subject")
    for n, entry in enumerate(evidence.get("entries") or []):
        where = f"entry {n} (leaf {entry.get('leaf_index')})"
        try:
            leaf = _unb64(entry["leaf"], "leaf")
            digest = leaf_hash(leaf)
            verify_inclusion(
                int(entry["leaf_index"]),
                checkpoint.size,
                digest,
                _proof(entry["inclusion"], "inclusion"),
                checkpoint.root,
            )
            parsed = parse_leaf(leaf)
        except (KeyError, TypeError, ValueError) as exc:
            kind = "proof" if isinstance(exc, ProofError) else "malformed"
            problems.append(Problem(kind, where, str(exc)))
            continue
        obj = parsed["object"]
        if subject not in (obj.get("id"), obj.get("declaration_id")):
            problems.append(Problem("mismatch", where, f"the entry is not about {subject!r}"))
    if not evidence.get("entries"):
        problems.append(Problem("malformed", "file", "it holds no entries"))
    return problems


def check_record(
    record: Mapping[str, Any],
    trusted: VerifierKey | None,
    log: Callable[[], Iterable[tuple[int, bytes]]] | None = None,
) -> list[Problem]:
    """A party's saved tree heads, consistency proofs and receipts; with ``log`` (the log's
    leaves, e.g. from the service's database) also that the log still holds what was saved."""
    if record.get("format") != RECORD_FORMAT:
        return [Problem("malformed", "file", f"not a {RECORD_FORMAT} file")]
    try:
        key = trusted or VerifierKey.from_text(str(record["verifier_key"]))
    except (KeyError, NoteError) as exc:
        return [Problem("signature", "verifier key", str(exc))]
    checkpoints, problems = open_checkpoints(record.get("checkpoints") or [], key)
    proofs = {
        (p.get("first"), p.get("second")): p.get("hashes") for p in record.get("consistency") or []
    }
    for a, b in itertools.pairwise(checkpoints):
        if a.size in (b.size, 0):
            continue
        where = f"checkpoints {a.size} and {b.size}"
        if (a.size, b.size) not in proofs:
            problems.append(Problem("proof", where, "no consistency proof saved between them"))
            continue
        try:
            verify_consistency(
                a.size, b.size, a.root, b.root, _proof(proofs[(a.size, b.size)], "consistency")
            )
        except ValueError as exc:
            problems.append(
                Problem("forked", where, f"the later log does not extend the earlier: {exc}")
            )
    receipts = record.get("receipts") or []
    for n, r in enumerate(receipts):
        where = f"receipt {n} (leaf {r.get('leaf_index')})"
        try:
            cp = Checkpoint.open(str(r["checkpoint"]), key)
            verify_inclusion(
                int(r["leaf_index"]),
                cp.size,
                _unb64(r["leaf_hash"], "leaf_hash"),
                _proof(r.get("inclusion"), "inclusion"),
                cp.root,
            )
        except NoteError as exc:
            problems.append(Problem("signature", where, str(exc)))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem("proof", where, str(exc)))
    if log is not None:
        problems += _record_against_log(checkpoints, receipts, log)
    return problems


def _record_against_log(
    checkpoints: Sequence[Checkpoint],
    receipts: Sequence[Mapping[str, Any]],
    log: Callable[[], Iterable[tuple[int, bytes]]],
) -> list[Problem]:
    saved = {
        r["leaf_index"]: r["leaf_hash"]
        for r in receipts
        if isinstance(r.get("leaf_index"), int) and isinstance(r.get("leaf_hash"), str)
    }
    problems: list[Problem] = []
    for index, leaf in log():
        if index in saved and b64(leaf_hash(leaf)) != saved.pop(index):
            problems.append(
                Problem("altered", f"leaf {index}", "the log's leaf differs from the saved receipt")
            )
    for index in sorted(saved):
        problems.append(
            Problem("removed", f"leaf {index}", "a saved receipt proves it was in the log")
        )
    for p in check_log(log(), checkpoints):
        problems.append(Problem(p.kind, p.where, p.detail + " (a checkpoint the party saved)"))
    return problems
