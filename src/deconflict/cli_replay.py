"""The replay command: recorded traffic run through detection cycle by cycle, offline.

Reading and writing files is :mod:`deconflict.replay_io`, the cycles :mod:`deconflict.replay`;
this module is options, the progress bar and what is printed (docs/replay.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from deconflict.replay import (
    DEFAULT_STALE_AFTER_S,
    Cycle,
    Record,
    ReplayOptions,
    Side,
    choose_cycle,
    replay,
)
from deconflict.replay_io import (
    AltitudeSource,
    Format,
    ReplayInputError,
    geojson,
    open_recording,
    write_json,
)
from deconflict.separation import Separation
from deconflict.track_alerts import ChangeKind
from deconflict.units import FT_M, NM_M
from deconflict.volumes import format_time

__all__ = ["register"]

console = Console()
err = Console(stderr=True)
_DEFAULT = Separation()
_TABLE_ROWS = 50


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def _fail(file: Path, problems: list[str]) -> typer.Exit:
    for problem in problems:
        err.print(f"{file}: {problem}", markup=False, soft_wrap=True)
    return typer.Exit(2)


def _who(side: Side) -> str:
    name = f"{side.report.callsign} {side.track_id}" if side.report.callsign else side.track_id
    return f"{name} ({side.party})"


def _opened_line(record: Record) -> str:
    p = record.prediction
    when = "separation lost now" if p.lost else f"separation lost in {p.t_in_s:.0f} s"
    place = p.told["place"]
    return (
        f"{format_time(record.at)} {record.encounter} opened: {_who(p.a)} and {_who(p.b)}: {when}; "
        f"closest {p.dcpa_m / NM_M:.2f} NM, {p.dz_m / FT_M:+.0f} ft in {p.tcpa_s:.0f} s "
        f"at lat {place['lat']}, lon {place['lon']}"
    )


@dataclass
class _Tally:
    cycles: int = 0
    first: datetime | None = None
    last: datetime | None = None
    most_aircraft: int = 0
    open_at_end: int = 0
    records: list[Record] = field(default_factory=list)

    def add(self, cycle: Cycle) -> None:
        self.cycles += 1
        self.first = self.first or cycle.at
        self.last = cycle.at
        self.most_aircraft = max(self.most_aircraft, cycle.aircraft)
        self.open_at_end = cycle.open
        self.records.extend(cycle.records)


def _summary(tally: _Tally, cycle_s: float, rows: int, skipped: dict[str, int]) -> None:
    if tally.first is None or tally.last is None:
        _say(f"no usable reports in {rows} rows")
    else:
        _say(
            f"{tally.cycles} cycles of {cycle_s:g} s from {format_time(tally.first)} to "
            f"{format_time(tally.last)}, at most {tally.most_aircraft} aircraft at once"
        )
    if skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        _say(f"{rows} rows read, {rows - sum(skipped.values())} used; skipped: {reasons}")
    count = dict.fromkeys(ChangeKind, 0)
    for r in tally.records:
        count[r.change] += 1
    _say(
        f"{count[ChangeKind.OPENED]} encounters opened, {count[ChangeKind.REVISED]} revisions, "
        f"{count[ChangeKind.CLOSED]} closed, {tally.open_at_end} still open at the end"
    )
    by_encounter: dict[str, list[Record]] = {}
    for r in tally.records:
        by_encounter.setdefault(r.encounter, []).append(r)
    if not by_encounter:
        return
    table = Table(title="encounters")
    for col in ("encounter", "a", "b", "opened", "closed", "lost", "closest NM", "revisions"):
        table.add_column(col)
    for enc, rs in list(by_encounter.items())[:_TABLE_ROWS]:
        closed = next((r for r in rs if r.change is ChangeKind.CLOSED), None)
        table.add_row(
            enc,
            _who(rs[0].prediction.a),
            _who(rs[0].prediction.b),
            format_time(rs[0].opened_at),
            format_time(closed.at) if closed else "open",
            "yes" if any(r.prediction.lost for r in rs) else "",
            f"{min(r.prediction.dcpa_m for r in rs) / NM_M:.2f}",
            str(sum(r.change is ChangeKind.REVISED for r in rs)),
        )
    console.print(table)
    if len(by_encounter) > _TABLE_ROWS:
        _say(f"... and {len(by_encounter) - _TABLE_ROWS} more (see --json)")


def replay_command(
    file: Annotated[
        Path, typer.Argument(help="OpenSky state vectors (CSV), or track reports (JSON).")
    ],
    *,
    each_own_party: Annotated[
        bool,
        typer.Option(
            "--each-own-party",
            help="OpenSky: every aircraft is its own party (civil traffic). Otherwise the "
            "aircraft of one operator (callsign prefix) are one party.",
        ),
    ] = False,
    altitude: Annotated[
        AltitudeSource | None,
        typer.Option(
            "--altitude", help="OpenSky: baroaltitude as AMSL (default) or geoaltitude as W84."
        ),
    ] = None,
    lookahead_s: Annotated[
        float, typer.Option("--lookahead", min=1.0, max=3600.0, help="Look-ahead, seconds.")
    ] = _DEFAULT.lookahead_s,
    separation_nm: Annotated[
        float,
        typer.Option("--separation-nm", min=0.01, max=100.0, help="Horizontal minimum, NM."),
    ] = _DEFAULT.horizontal_m / NM_M,
    separation_ft: Annotated[
        float,
        typer.Option("--separation-ft", min=0.0, max=100_000.0, help="Vertical minimum, ft."),
    ] = _DEFAULT.vertical_m / FT_M,
    cycle_s: Annotated[
        float | None,
        typer.Option(
            "--cycle",
            min=0.1,
            max=3600.0,
            help="Seconds between cycles (default: the data's own time step).",
        ),
    ] = None,
    stale_after_s: Annotated[
        float,
        typer.Option(
            "--stale-after", min=0.1, help="A report older than this takes no part, seconds."
        ),
    ] = DEFAULT_STALE_AFTER_S,
    grace_s: Annotated[
        float | None,
        typer.Option(
            "--grace",
            min=0.0,
            help="Close an encounter not predicted for this long, seconds (default: 3 cycles).",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the alerts as a JSON list.")
    ] = None,
    geojson_out: Annotated[
        Path | None, typer.Option("--geojson", help="Write the alerts as GeoJSON.")
    ] = None,
) -> None:
    """Offline: run recorded traffic through detection cycle by cycle and print the alerts."""
    try:
        recording = open_recording(
            file, altitude=altitude or AltitudeSource.BARO, each_own_party=each_own_party
        )
    except OSError as exc:
        raise _fail(file, [f"cannot read it: {exc.strerror or exc}"]) from None
    except ReplayInputError as exc:
        raise _fail(file, exc.problems) from None
    if recording.kind is not Format.OPENSKY and (each_own_party or altitude is not None):
        raise _fail(
            file,
            [
                "--each-own-party and --altitude are for OpenSky files; JSON gives each "
                "report's party and altitude reference"
            ],
        )
    separation = Separation(
        horizontal_m=separation_nm * NM_M, vertical_m=separation_ft * FT_M, lookahead_s=lookahead_s
    )
    tally = _Tally()
    try:
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(f"replaying {file.name}", total=recording.total)
            step_s, reports = choose_cycle(recording, cycle_s)
            options = ReplayOptions(separation, step_s, stale_after_s, grace_s)
            for cycle in replay(reports, options):
                tally.add(cycle)
                for record in cycle.records:
                    if record.change is ChangeKind.OPENED:
                        _say(_opened_line(record))
                bar.update(task, completed=recording.done)
    except ReplayInputError as exc:
        raise _fail(file, exc.problems) from None
    except OSError as exc:
        raise _fail(file, [f"cannot read it: {exc.strerror or exc}"]) from None
    _summary(tally, step_s, recording.rows, dict(recording.skipped))
    outputs = (
        (json_out, lambda: [r.to_json() for r in tally.records]),
        (geojson_out, lambda: geojson(tally.records)),
    )
    for out, data in outputs:
        if out is None:
            continue
        try:
            write_json(out, data())
        except OSError as exc:
            raise _fail(out, [f"cannot write it: {exc.strerror or exc}"]) from None
        _say(f"{len(tally.records)} alerts written to {out}")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
