"""Start real service processes on loopback for the tests that are about them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

DECONFLICT = [sys.executable, "-m", "deconflict"]
STARTUP_TIMEOUT_S = 60.0
KEEP_2017 = ("--set", "declaration_retention_days=36500")
"""For `serve` over the tests' declarations, dated April 2017: without it, retention would
purge them at the server's first tick (docs/retention.md)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not come up in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@contextlib.contextmanager
def running(args: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``deconflict ARGS`` until the block ends (then stop it, unless it died already)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*DECONFLICT, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_until_up(proc, port, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
