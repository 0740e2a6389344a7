"""Opening a data dir: its database, its ledger signing key (created on first start, beside the
database) and the channel over them."""

from __future__ import annotations

import os
from pathlib import Path

from deconflict.ledger import Ledger
from deconflict.notes import SignerKey, VerifierKey
from deconflict.service import Channel
from deconflict.settings import Settings
from deconflict.store.base import Store
from deconflict.store.sqlite import SqliteStore

__all__ = [
    "LEDGER_KEY_FILE",
    "LEDGER_VERIFIER_FILE",
    "data_dir_verifier",
    "ledger_signer",
    "open_channel",
    "open_store",
    "store_exists",
]

LEDGER_KEY_FILE = "ledger.key"
LEDGER_VERIFIER_FILE = "ledger.pub"


def _write_new(path: Path, text: str, mode: int) -> None:
    """Write ``path`` unless it exists, never leaving a partial file under its name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def ledger_signer(data_dir: Path, origin: str) -> SignerKey:
    """The data dir's ledger key, created on first use; its verifier key is written beside it
    in the note verifier-key format."""
    path = data_dir / LEDGER_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _write_new(path, SignerKey.generate(origin).to_text() + "\n", 0o600)
    key = SignerKey.from_text(path.read_text(encoding="ascii").strip())
    public = data_dir / LEDGER_VERIFIER_FILE
    if not public.exists():
        _write_new(public, key.verifier.to_text() + "\n", 0o644)
    return key


def data_dir_verifier(data_dir: Path) -> VerifierKey:
    return VerifierKey.from_text(
        (data_dir / LEDGER_VERIFIER_FILE).read_text(encoding="ascii").strip()
    )


def store_exists(settings: Settings) -> bool:
    """Whether the store holds a database already (a PostgreSQL database is created by its
    operators; the store only adds its tables)."""
    return bool(settings.postgres_url) or settings.database_path.exists()


def open_store(settings: Settings, database: Path | None = None) -> Store:
    """PostgreSQL when a URL is set (:attr:`Settings.postgres_url`), else the data dir's SQLite
    file (or ``database``, e.g. while loading)."""
    if settings.postgres_url:
        # Imported here: the SQLite default never loads psycopg.
        from deconflict.store.pg import PgStore  # noqa: PLC0415

        return PgStore(settings.postgres_url, cache_size=settings.declaration_cache_size)
    if database is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStore(
        database or settings.database_path, cache_size=settings.declaration_cache_size
    )


def open_channel(settings: Settings, database: Path | None = None) -> Channel:
    """The channel over the configured store, with the data dir's ledger key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signer = ledger_signer(settings.data_dir, settings.ledger_origin)
    store = open_store(settings, database)
    return Channel(
        store,
        settings.rules(),
        Ledger(signer),
        deadlines=settings.deadlines(),
        notice_policy=settings.notice_policy(),
        line_test_times=settings.line_tests(),
        track_policy=settings.track_policy(),
        retention=settings.retention_policy(),
    )
