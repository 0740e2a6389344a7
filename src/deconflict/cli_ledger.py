"""Ledger commands: verify, export-log, evidence and witness.

``verify`` works offline. ``evidence`` and ``witness`` are what a party runs against the
service over HTTP: one fetches an evidence file and checks it before saving it, the other keeps
the party's own record of tree heads, consistency proofs and receipts, so that the operator
cannot later rewrite the log without the party's record showing it.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from deconflict.audit import (
    LOG_FORMAT,
    RECORD_FORMAT,
    Problem,
    check_evidence,
    check_log,
    check_record,
    open_checkpoints,
)
from deconflict.conflicts import Conflict
from deconflict.ledger import EVIDENCE_FORMAT, b64
from deconflict.merkle import verify_consistency
from deconflict.notes import Checkpoint, NoteError, VerifierKey
from deconflict.reconcile import check_state
from deconflict.runtime import data_dir_verifier, open_store, store_exists
from deconflict.settings import Settings
from deconflict.store.base import Store, StoreTxn

__all__ = ["register"]

console = Console()
err = Console(stderr=True)
_CHUNK = 10_000

KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key", help="The verifier key you trust: its text, or a file holding it (ledger.pub)."
    ),
]
Url = Annotated[str, typer.Option("--url", help="Base URL of the service.")]
Token = Annotated[
    str,
    typer.Option("--token", envvar="DECONFLICT_TOKEN", help="Bearer token (or DECONFLICT_TOKEN)."),
]


def _fail(message: str) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(2)


def _trusted(key: str | None) -> VerifierKey | None:
    if key is None:
        return None
    text = Path(key).read_text(encoding="ascii") if Path(key).is_file() else key
    try:
        return VerifierKey.from_text(text.strip())
    except NoteError as exc:
        raise _fail(f"--key: {exc}") from None


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise _fail(f"{path}: not a JSON object")
    return data


def _stored_leaves(txn: StoreTxn) -> Iterator[tuple[int, bytes]]:
    start = 0
    while chunk := txn.ledger_leaves(start, start + _CHUNK):
        yield from chunk
        start = chunk[-1][0] + 1


def _leaf(txn: StoreTxn, index: int) -> bytes:
    found = txn.ledger_leaf(index)
    if found is None:
        raise LookupError(f"leaf {index} vanished during the check")
    return found[0]


def _open_data_dir(data_dir: Path) -> Store:
    """The data dir's store: its SQLite file, or PostgreSQL when DECONFLICT_DATABASE_URL is set."""
    settings = Settings(data_dir=data_dir)
    if not store_exists(settings):
        raise _fail(f"no database at {settings.database_path}")
    return open_store(settings)


def _check_data_dir(
    data_dir: Path, trusted: VerifierKey | None, record: dict[str, Any] | None
) -> tuple[list[Problem], str]:
    store = _open_data_dir(data_dir)
    verifier = trusted or data_dir_verifier(data_dir)
    try:
        with store.read() as txn:
            checkpoints, problems = open_checkpoints(txn.ledger_checkpoints(), verifier)
            hashes = txn.ledger_leaf_hashes(0, 2**62)
            problems += check_log(_stored_leaves(txn), checkpoints, stored_hashes=hashes)
            conflicts: list[Conflict] = []
            try:
                conflicts = txn.all_conflicts()
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(Problem("malformed", "conflicts table", str(exc)))
            problems += check_state(
                _stored_leaves(txn),
                declarations=txn.declaration_bodies(),
                conflicts=conflicts,
                notifications=txn.all_notifications(),
                parties=txn.list_parties(),
                principals=txn.list_principals(None),
                leaf_at=lambda index: _leaf(txn, index),
            )
            if record is not None:
                problems += check_record(record, trusted, lambda: _stored_leaves(txn))
            size = txn.ledger_size()
    finally:
        store.close()
    return problems, f"{size} leaves and {len(checkpoints)} checkpoints of {verifier.name}"


def _check_file(data: dict[str, Any], trusted: VerifierKey | None) -> tuple[list[Problem], str]:
    kind = data.get("format")
    if kind == EVIDENCE_FORMAT:
        return check_evidence(data, trusted), f"{len(data.get('entries') or [])} entries"
    if kind == RECORD_FORMAT:
        counts = f"{len(data.get('receipts') or [])} receipts"
        return check_record(
            data, trusted
        ), f"{len(data.get('checkpoints') or [])} tree heads, {counts}"
    if kind == LOG_FORMAT:
        try:
            verifier = trusted or VerifierKey.from_text(str(data["verifier_key"]))
            leaves = [(i, base64.b64decode(x)) for i, x in enumerate(data["leaves"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise _fail(f"not a usable log: {exc}") from None
        checkpoints, problems = open_checkpoints(data.get("checkpoints") or [], verifier)
        problems += check_log(leaves, checkpoints)
        return problems, f"{len(leaves)} leaves and {len(checkpoints)} checkpoints"
    raise _fail(f"unknown file format {kind!r}")


def verify(
    file: Annotated[
        Path | None,
        typer.Argument(help="An exported log, an evidence file or a party's record."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Check this data dir's log and tables (offline)."),
    ] = None,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Offline: check a log, evidence file or party record, or a data dir (exit 1 on a problem).

    Reports each altered, removed, reordered or forked entry. With --data-dir and a record FILE,
    also checks that the log still holds what the party saved.
    """
    trusted = _trusted(key)
    if data_dir is None and file is None:
        raise _fail("give a FILE, --data-dir, or both")
    if data_dir is not None:
        record = None if file is None else _load_json(file)
        if record is not None and record.get("format") != RECORD_FORMAT:
            raise _fail(f"with --data-dir, FILE is a party's record ({RECORD_FORMAT})")
        problems, what = _check_data_dir(data_dir, trusted, record)
    else:
        assert file is not None
        problems, what = _check_file(_load_json(file), trusted)
    if as_json:
        print(json.dumps({"verified": not problems, "problems": [p.to_json() for p in problems]}))
    elif problems:
        console.print(f"{len(problems)} problem(s) in {what}:", markup=False)
        for p in problems:
            console.print(f"  {p}", markup=False, soft_wrap=True)
    else:
        console.print(f"verified: {what}")
    if problems:
        raise typer.Exit(1)


def export_log(
    out: Annotated[Path, typer.Argument(help="File to write (JSON).")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Folder of deconflict.db.")] = Path(
        "data"
    ),
) -> None:
    """Export the whole log (every leaf and signed checkpoint) for `deconflict verify`."""
    store = _open_data_dir(data_dir)
    try:
        with store.read() as txn:
            leaves = [b64(leaf) for _, leaf in _stored_leaves(txn)]
            notes = txn.ledger_checkpoints()
    finally:
        store.close()
    verifier = data_dir_verifier(data_dir)
    _write(
        out,
        {
            "format": LOG_FORMAT,
            "origin": verifier.name,
            "verifier_key": verifier.to_text(),
            "leaves": leaves,
            "checkpoints": notes,
        },
    )
    console.print(f"{len(leaves)} leaves and {len(notes)} checkpoints written to {out}")


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    try:
        r = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise _fail(f"{client.base_url}: {exc}") from None
    if r.status_code != 200:
        raise _fail(f"GET {path}: {r.status_code} {r.text}")
    return r


def evidence(
    object_id: Annotated[str, typer.Argument(help="A declaration, conflict or incident id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
    key: KeyOption = None,
) -> None:
    """Fetch, verify and save the evidence file about an object."""
    with _client(url, token) as client:
        data = _get(client, f"/v1/ledger/evidence/{object_id}").json()
    problems = check_evidence(data, _trusted(key))
    if problems:
        for p in problems:
            err.print(str(p), markup=False)
        raise typer.Exit(1)
    _write(out, data)
    console.print(f"{len(data['entries'])} verified entries about {object_id} written to {out}")


def witness(
    record: Annotated[Path, typer.Option("--record", help="The party's record file (JSON).")],
    responses: Annotated[
        list[Path] | None,
        typer.Argument(help="Saved write responses whose receipts to add to the record."),
    ] = None,
    url: Url = "http://127.0.0.1:8000",
    token: Token = "",
) -> None:
    """Save the latest tree head in a party's record, proving it extends the ones saved.

    Also adds the receipts of saved write responses, with their tree heads. Exit status 1 if
    the log forked or shrank, or the key changed.
    """
    data: dict[str, Any] = (
        _load_json(record)
        if record.exists()
        else {"format": RECORD_FORMAT, "checkpoints": [], "consistency": [], "receipts": []}
    )
    receipts = [_receipt(path) for path in responses or []]
    with _client(url, token) as client:
        key_text = _get(client, "/v1/ledger/key").text.strip()
        data.setdefault("verifier_key", key_text)
        if data["verifier_key"] != key_text:
            raise _forked("the service's verifier key is not the one in the record")
        verifier = VerifierKey.from_text(key_text)
        heads: dict[int, tuple[str, Checkpoint]] = {}
        for note in data["checkpoints"]:
            _add_head(heads, note, verifier)
        newest = max(heads, default=0)
        latest = _add_head(heads, _get(client, "/v1/ledger/checkpoint").text, verifier)
        if latest.size < newest:
            raise _forked(f"the log shrank from {newest} to {latest.size} leaves")
        for receipt in receipts:
            _add_head(heads, str(receipt.get("checkpoint")), verifier)
        proven = {(p.get("first"), p.get("second")) for p in data["consistency"]}
        sizes = sorted(size for size in heads if size > 0)
        for first, second in itertools.pairwise(sizes):
            if (first, second) not in proven:
                hashes = _consistent(client, heads[first][1], heads[second][1])
                data["consistency"].append({"first": first, "second": second, "hashes": hashes})
        data["checkpoints"] = [heads[size][0] for size in sorted(heads)]
    problems = check_record({**data, "receipts": receipts}, verifier)
    if problems:
        raise _fail("; ".join(map(str, problems)))
    data["receipts"].extend(receipts)
    _write(record, data)
    console.print(f"tree head {latest.size} saved in {record}")


def _receipt(path: Path) -> dict[str, Any]:
    receipt = _load_json(path).get("receipt")
    if not isinstance(receipt, dict):
        raise _fail(f"{path}: no receipt in it")
    return receipt


def _add_head(heads: dict[int, tuple[str, Checkpoint]], note: str, key: VerifierKey) -> Checkpoint:
    try:
        head = Checkpoint.open(note, key)
    except NoteError as exc:
        raise _forked(f"a tree head not signed by the ledger's key: {exc}") from None
    known = heads.setdefault(head.size, (note, head))[1]
    if known.root != head.root:
        raise _forked(f"two roots for tree size {head.size}")
    return head


def _consistent(client: httpx.Client, first: Checkpoint, second: Checkpoint) -> list[str]:
    """The service's proof that ``second`` extends ``first``, checked."""
    hashes: list[str] = _get(
        client, "/v1/ledger/consistency", first=first.size, second=second.size
    ).json()["hashes"]
    try:
        proof = [base64.b64decode(h, validate=True) for h in hashes]
        verify_consistency(first.size, second.size, first.root, second.root, proof)
    except ValueError as exc:
        raise _forked(f"tree head {second.size} does not extend {first.size}: {exc}") from None
    return hashes


def _forked(message: str) -> typer.Exit:
    err.print(f"forked: {message}", markup=False)
    return typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("export-log")(export_log)
    app.command("evidence")(evidence)
    app.command("witness")(witness)
