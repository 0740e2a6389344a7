"""Nothing lost: a write that got a 2xx survives SIGKILL of the server process, and so does its
ledger entry: the log verifies after the crash."""

from __future__ import annotations

import base64
import hashlib
import signal
import sqlite3
import threading
import time
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
from servers import KEEP_2017, free_port, running

WRITERS = 4
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


@pytest.mark.slow
def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    channel = open_channel(settings)
    tokens = make_channel_parties(channel)
    channel.store.close()
    port = free_port()
    args = ["serve", "--data-dir", str(settings.data_dir), "--port", str(port), *KEEP_2017]
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
        server.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
        server.wait()
        stop.set()
        for t in threads:
            t.join()
    assert len(acked) >= MIN_ACKED_BEFORE_KILL

    with sqlite3.connect(settings.database_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conflicts_promised = {c["id"] for r in acked for c in r["conflicts"]}
    assert conflicts_promised, "the burst was built to produce conflicts"
    with running(args, port, tmp_path / "log"):
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
