"""Nothing lost: a write that got a 2xx survives SIGKILL of the server process, and so does its
ledger entry: the log verifies after the crash."""

from __future__ import annotations

import base64
import hashlib
import itertools
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import make_channel_parties
from deconflict.cli import app
from deconflict.runtime import open_channel
from deconflict.settings import Settings
from factories import declaration, point, volume
from servers import KEEP_2017, free_port, kill_all, running

WRITERS = 4
DEADLINE_S = 3
"""High-severity deadline while the test runs: the burst's notifications fall due during the
outage."""
MIN_ACKED_BEFORE_KILL = 150


def burst(
    port: int, token: str, lon0: float, acked: list[dict[str, Any]], stop: threading.Event
) -> None:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=5.0,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        i = 0
        while not stop.is_set():
            i += 1
            body = declaration(
                "air_operation",
                f"sortie {lon0} {i}",
                volume(point(lon0 + (i % 50) * 0.02, 35.0), buffer_m=3_000),
            )
            try:
                r = client.post("/v1/declarations", json=body)
            except httpx.HTTPError:
                return
            if r.status_code == 201:
                acked.append(r.json())


def assert_escalations_resume(port: int, tokens: dict[str, str], conflicts: set[str]) -> None:
    """Every party's notification of a promised conflict, due while the service was down,
    escalates after the restart, each level once (several workers must not repeat one)."""
    deadline = time.monotonic() + 30
    for who in ("coalition", "russia"):
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {tokens[who]}"},
        ) as client:
            while True:
                mine = {
                    n["subject_id"]: n
                    for n in _all_notifications(client)
                    if n["subject"] == "conflict" and n["subject_id"] in conflicts
                }
                if all(len(n["escalations"]) > 1 for n in mine.values()) or (
                    time.monotonic() > deadline
                ):
                    break
                time.sleep(0.2)
            assert mine, who
            for n in mine.values():
                # the first record is the notification itself; each later one is a deadline
                # that passed (no roster here: a reminder at the top level), one per deadline
                times = [datetime.fromisoformat(e["at"]) for e in n["escalations"]]
                assert len(times) > 1, n
                gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
                assert min(gaps) >= DEADLINE_S - 0.5, n


def _all_notifications(client: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"limit": "1000", **({"cursor": after} if after else {})}
        page = client.get("/v1/notifications", params=params).json()
        out += page["items"]
        after = page.get("next")
        if not after:
            return out


@pytest.mark.slow
def test_every_acknowledged_write_survives_sigkill(tmp_path: Path, store_kind: str) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    channel.store.close()
    port = free_port()
    workers = "2" if store_kind == "postgres" else "1"
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
    args += ["--workers", workers, "--set", f"high_deadline_s={DEADLINE_S}"]
    acked: list[dict[str, Any]] = []
    stop = threading.Event()
    with running(args, port, tmp_path / "log") as server:
        threads = [
            threading.Thread(target=burst, args=(port, tokens[who], 38.0 + 0.01 * k, acked, stop))
            for k, who in enumerate(["coalition", "russia", "coalition", "russia"][:WRITERS])
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < MIN_ACKED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        kill_all(server)  # mid-burst: requests are in flight, on every worker
        killed_at = time.monotonic()
        stop.set()
        for t in threads:
            t.join()
    assert len(acked) >= MIN_ACKED_BEFORE_KILL

    if not settings.postgres_url:
        with sqlite3.connect(settings.database_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conflicts_promised = {c["id"] for r in acked for c in r["conflicts"]}
    assert conflicts_promised, "the burst was built to produce conflicts"
    # Down for longer than the deadlines: the notifications fell due while nobody ran.
    time.sleep(max(0.0, DEADLINE_S + 1 - (time.monotonic() - killed_at)))
    with running(args, port, tmp_path / "log"):
        assert_escalations_resume(port, tokens, conflicts_promised)
        for who in ("coalition", "russia"):
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {tokens[who]}"},
            ) as client:
                for r in acked:
                    decl = r["declaration"]
                    if decl["party"] != who:
                        continue
                    got = client.get(f"/v1/declarations/{decl['id']}")
                    assert got.status_code == 200, decl["id"]
                    assert got.json() == decl
                    for c in r["conflicts"]:
                        assert client.get(f"/v1/conflicts/{c['id']}").status_code == 200
                    # the receipt's leaf is still in the log, byte for byte
                    leaf = client.get(f"/v1/ledger/leaves/{r['receipt']['leaf_index']}")
                    assert leaf.status_code == 200
                    digest = hashlib.sha256(b"\x00" + base64.b64decode(leaf.json()["leaf"]))
                    assert base64.b64encode(digest.digest()).decode() == r["receipt"]["leaf_hash"]
    verified = CliRunner().invoke(app, ["verify", "--data-dir", str(settings.data_dir)])
    assert verified.exit_code == 0, verified.output
