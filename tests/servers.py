"""Start real service processes on loopback for the tests that are about them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from deconflict.settings import DATABASE_URL_ENV

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
def running(
    args: list[str], port: int, log: Path, *, database_url: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``deconflict ARGS`` until the block ends (then stop it, unless it died already);
    on the PostgreSQL ``database_url`` when one is given ("" for SQLite), else on the
    environment's."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    if database_url is not None:
        env[DATABASE_URL_ENV] = database_url
    with log.open("ab") as out:
        # A session of its own: the server and any worker processes form one process group.
        proc = subprocess.Popen(
            [*DECONFLICT, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
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
        kill_all(proc)  # workers left behind by a parent that died


def kill_all(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every worker process it started; wait for the server."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
