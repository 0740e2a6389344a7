"""A throwaway PostgreSQL cluster on loopback for the tests (docs/postgres.md, "Recipe").

Debian's server binaries refuse to run as root, so as root they run as the ``postgres`` user
that the package creates. The cluster trusts loopback connections and skips fsync: it lives as
long as one test session. Run as a script, it starts a cluster, prints its URL and waits; CI
starts one this way (``.ci/run``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("DECONFLICT_PG_BIN", "/usr/lib/postgresql/15/bin"))
URL_ENV = "DECONFLICT_TEST_DATABASE_URL"


def installed() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class Cluster:
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            _as_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, durable: bool = False) -> Cluster:
    """initdb and start a cluster on a free loopback port (about half a second); without
    ``durable``, commits are not flushed to disk (for tests, not for benchmarks)."""
    root = Path(tempfile.mkdtemp(prefix="deconflict-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    subprocess.run(
        _as_owner(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-c port={port}",
            f"-c unix_socket_directories={root}",
            "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "-c max_connections=300",
            "-c max_locks_per_transaction=256",
        ]
    )
    subprocess.run(
        _as_owner(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-l",
                str(root / "log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    return Cluster(root, port)


def _serve_until_stopped() -> None:
    """Start a cluster, print its URL, and stop it on SIGTERM or SIGINT."""
    cluster = start()
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    print(cluster.url, flush=True)
    try:
        stopped.wait()
    finally:
        cluster.stop()


if __name__ == "__main__":
    _serve_until_stopped()
