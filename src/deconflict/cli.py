"""The command-line tool: serve, demo, check, admin."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from deconflict.api.app import SETTINGS_ENV, create_app
from deconflict.cli_ledger import register as register_ledger_commands
from deconflict.cli_replay import register as register_replay_command
from deconflict.demo import DEMO_TOKENS_FILE, load_scenario
from deconflict.demo.traffic import feed
from deconflict.disclosure import Role
from deconflict.errors import DeconflictError, InvalidInput
from deconflict.notes import NoteError
from deconflict.offline import detect_all, parse_feature_collection
from deconflict.runtime import open_channel, store_exists
from deconflict.service import Channel
from deconflict.settings import Settings, setting_docs

_DEMO_RETENTION_DAYS = 36_500.0
"""The demo keeps its April 2017 declarations unless told otherwise (``--set``)."""

__all__ = ["app", "main"]

app = typer.Typer(help="deconflict: a deconfliction channel.", no_args_is_help=True)
admin = typer.Typer(
    help="Parties, principals and tokens (works on the data dir directly).", no_args_is_help=True
)
app.add_typer(admin, name="admin")
register_ledger_commands(app)
register_replay_command(app)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder of deconflict.db.")]
Port = Annotated[int, typer.Option("--port", help="TCP port.")]
Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        max=64,
        help="Worker processes on one port over one PostgreSQL database (SQLite: 1).",
    ),
]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Any setting as name=value (see `deconflict settings`)."),
]


def _settings(data_dir: Path, host: str, port: int, sets: list[str] | None) -> Settings:
    pairs = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint="--set")
        pairs[name.strip()] = value.strip()
    try:
        return Settings(data_dir=data_dir, host=host, port=port).with_values(pairs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from None


def _serve(settings: Settings, workers: int = 1) -> None:
    url = f"http://{settings.host}:{settings.port}"
    if workers > 1 and not settings.postgres_url:
        err.print(
            "several workers need PostgreSQL (DECONFLICT_DATABASE_URL or --set database_url=):"
            " a SQLite file takes one writing process"
        )
        raise typer.Exit(2)
    console.print(f"deconflict serving {settings.database_name} on {url} ({workers} worker(s))")
    console.print(f"dashboard: {url}/ (sign in with a principal's token)")
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": settings.shutdown_grace_s,  # else open streams block a stop
    }
    if workers == 1:
        with _key_errors(settings):
            asgi = create_app(settings)
        uvicorn.run(asgi, **common)
        return
    # The parent makes the ledger key and applies migrations once; each worker builds its own
    # app from the same settings.
    with _key_errors(settings):
        open_channel(settings).store.close()
    os.environ[SETTINGS_ENV] = settings.to_text()
    uvicorn.run("deconflict.api.app:app_from_environment", factory=True, workers=workers, **common)


@contextmanager
def _key_errors(settings: Settings) -> Iterator[None]:
    """An unreadable ledger key or a bad ledger name stops the command with status 2."""
    try:
        yield
    except NoteError as exc:
        err.print(f"ledger key in {settings.data_dir}: {exc}", markup=False)
        raise typer.Exit(2) from None


@app.command()
def serve(
    data_dir: DataDir = Path("data"),
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    sets: Sets = None,
) -> None:
    """Serve an existing data dir over HTTP."""
    settings = _settings(data_dir, host, port, sets)
    if not store_exists(settings):
        err.print(
            f"no database at {settings.database_path}; run `deconflict demo` or "
            "`deconflict admin init` first"
        )
        raise typer.Exit(2)
    _serve(settings, workers)


@app.command()
def demo(
    data_dir: DataDir = Path("demo-data"),
    host: Host = "127.0.0.1",
    port: Port = 8000,
    sets: Sets = None,
    traffic: Annotated[
        bool,
        typer.Option(
            "--traffic/--no-traffic",
            help="Feed two simulated aircraft whose paths cross every few minutes.",
        ),
    ] = True,
) -> None:
    """Serve the Syria, April 2017 demo scenario (loaded once into a new data dir)."""
    settings = _settings(data_dir, host, port, sets)
    if not any(item.startswith("declaration_retention_days=") for item in sets or []):
        # The scenario is history: retention by today's clock would purge it at once.
        settings = dataclasses.replace(settings, declaration_retention_days=_DEMO_RETENTION_DAYS)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.postgres_url:
        _load_demo_into_postgres(settings)
    elif not settings.database_path.exists():
        # Load under another name and rename: an interrupted load never looks like a database
        # that a later start would keep.
        loading = settings.database_path.with_suffix(".loading")
        for leftover in settings.data_dir.glob(loading.name + "*"):
            leftover.unlink()
        with _key_errors(settings):
            channel = open_channel(settings, loading)
        try:
            load_scenario(channel, settings.data_dir)
        finally:
            channel.store.close()
        loading.replace(settings.database_path)
        console.print(f"demo scenario loaded; bearer tokens in {data_dir / DEMO_TOKENS_FILE}")
    else:
        console.print(f"keeping the existing database in {settings.data_dir}")
    if traffic:
        tokens = json.loads((settings.data_dir / DEMO_TOKENS_FILE).read_text(encoding="utf-8"))
        local = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        stop = threading.Event()
        threading.Thread(
            target=feed,
            args=(f"http://{local}:{settings.port}", tokens, stop),
            name="demo-traffic",
            daemon=True,
        ).start()
        console.print("feeding demo traffic: HOG21 (coalition) and FENCER11 (russia)")
    _serve(settings)


def _load_demo_into_postgres(settings: Settings) -> None:
    """Load the scenario unless the database has parties already (then keep it)."""
    with _key_errors(settings):
        channel = open_channel(settings)
    try:
        with channel.store.read() as txn:
            empty = not txn.list_parties()
        if empty:
            load_scenario(channel, settings.data_dir)
            console.print(f"demo scenario loaded; bearer tokens in {settings.data_dir}")
        else:
            console.print(f"keeping the existing database {settings.database_name}")
    finally:
        channel.store.close()


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of declarations.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print conflicts as JSON.")] = False,
    sets: Sets = None,
) -> None:
    """Offline: the conflicts among the declarations of a GeoJSON file."""
    settings = _settings(Path(), "127.0.0.1", 8000, sets)
    try:
        decls = parse_feature_collection(json.loads(file.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"cannot read {file}: {exc}")
        raise typer.Exit(2) from None
    except InvalidInput as exc:
        for e in exc.errors:
            err.print(f"{file}: {e.field}: {e.detail} [{e.rule}]", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    with Progress(console=err, transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("detecting", total=len(decls))
        findings = detect_all(decls, settings.rules(), lambda n: bar.advance(task, n))
    if as_json:
        out = [
            {
                "a": f.a.id,
                "a_party": f.a.party,
                "a_title": f.a.title,
                "b": f.b.id,
                "b_party": f.b.party,
                "b_title": f.b.title,
                "kind": str(f.kind),
                "severity": str(f.severity),
                "overlap": f.overlap.to_json(),
            }
            for f in findings
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table(title=f"{len(findings)} conflicts among {len(decls)} declarations")
    for col in ("severity", "kind", "a", "b"):
        table.add_column(col)
    for f in findings:
        table.add_row(
            str(f.severity), str(f.kind), f"{f.a.title} ({f.a.party})", f"{f.b.title} ({f.b.party})"
        )
    console.print(table)


@app.command("settings")
def list_settings() -> None:
    """Every setting, its default and what it does."""
    table = Table()
    for col in ("name", "default", "meaning"):
        table.add_column(col)
    for row in setting_docs():
        table.add_row(*row)
    console.print(table)


@contextmanager
def _opened(data_dir: Path, sets: list[str] | None = None) -> Iterator[Channel]:
    """The channel of a data dir, closed afterwards; a refused change exits with status 2."""
    settings = _settings(data_dir, "127.0.0.1", 8000, sets)
    with _key_errors(settings):
        channel = open_channel(settings)
    try:
        yield channel
    except DeconflictError as exc:
        err.print(exc.detail, markup=False)
        raise typer.Exit(2) from None
    finally:
        channel.store.close()


@admin.command("init")
def admin_init(data_dir: DataDir = Path("data"), sets: Sets = None) -> None:
    """Create an empty database and the ledger's signing key in the data dir."""
    with _opened(data_dir, sets):
        console.print(f"database ready in {data_dir}")


@admin.command("add-party")
def add_party(party_id: str, name: str, data_dir: DataDir = Path("data")) -> None:
    """Add a party."""
    with _opened(data_dir) as channel:
        channel.add_party(party_id, name)
    console.print(f"party {party_id} added")


@admin.command("add-principal")
def add_principal(
    party_id: str,
    name: str,
    role: Annotated[Role, typer.Option(help="What the principal may do.")] = Role.DUTY_OFFICER,
    data_dir: DataDir = Path("data"),
) -> None:
    """Add a principal and print its bearer token (shown once, stored hashed)."""
    with _opened(data_dir) as channel:
        principal, token = channel.add_principal(party_id, name, role)
    console.print(f"principal {principal.id} ({role}) of {party_id}")
    sys.stdout.write(token + "\n")


@admin.command("principals")
def principals(data_dir: DataDir = Path("data")) -> None:
    """List principals (never their tokens)."""
    with _opened(data_dir) as channel:
        rows = channel.list_principals()
    table = Table()
    for col in ("id", "party", "name", "role", "revoked"):
        table.add_column(col)
    for p in rows:
        table.add_row(p.id, p.party, p.name, str(p.role), "yes" if p.revoked_at else "")
    console.print(table)


@admin.command("roster")
def roster(
    party_id: str,
    file: Annotated[
        Path | None, typer.Argument(help='JSON roster to set: {"levels": [...]}.')
    ] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Show a party's roster, or replace it from a JSON file."""
    with _opened(data_dir) as channel:
        if file is not None:
            try:
                raw = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                err.print(f"{file}: {exc}", markup=False)
                raise typer.Exit(2) from None
            channel.inbox.set_roster(None, party_id, raw)
        with channel.store.read() as txn:
            current = txn.get_roster(party_id)
    if current is None:
        console.print(f"{party_id} has no roster: every principal of it is level 1")
        return
    table = Table(title=f"roster of {party_id}")
    for col in ("level", "name", "principal", "shift (UTC)"):
        table.add_column(col)
    for n, level in enumerate(current.levels, start=1):
        for m in level.members or ():
            table.add_row(str(n), level.name, m.principal, m.shift.to_text())
        if not level.members:
            table.add_row(str(n), level.name, "(nobody)", "")
    console.print(table)


@admin.command("revoke")
def revoke(principal_id: str, data_dir: DataDir = Path("data")) -> None:
    """Revoke a principal's token."""
    with _opened(data_dir) as channel:
        channel.revoke_principal(principal_id)
    console.print(f"principal {principal_id} revoked")


def main() -> None:
    app()
