"""Configuration declared once, as data. The CLI's ``--set``, the docs and validation all derive
from the fields of :class:`Settings`; nothing is read from the environment at import."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from deconflict.declarations import Kind
from deconflict.health import parse_line_test_times
from deconflict.notice import NoticePolicy
from deconflict.notifications import Deadlines
from deconflict.retention import RetentionPolicy
from deconflict.rules import (
    DEFAULT_AIR_SEPARATION_FT,
    DEFAULT_AIR_SEPARATION_NM,
    DEFAULT_PROTECTED_SITE_RADIUS_M,
    RuleSet,
    default_rules,
)
from deconflict.separation import Separation
from deconflict.surveillance import TrackPolicy
from deconflict.units import FT_M, NM_M

__all__ = ["DATABASE_FILE", "DATABASE_URL_ENV", "Settings", "setting_docs"]

DATABASE_FILE = "deconflict.db"
DATABASE_URL_ENV = "DECONFLICT_DATABASE_URL"
"""The environment variable naming the PostgreSQL database when ``database_url`` is empty."""


def _doc(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(
        default=Path("data"), metadata=_doc("Folder holding the SQLite database (deconflict.db).")
    )
    database_url: str = field(
        default="",
        metadata=_doc(
            "PostgreSQL database of the production store (postgresql://user@host:port/name);"
            " empty: the DECONFLICT_DATABASE_URL environment variable, and when that is unset"
            " too, the SQLite file in data_dir."
        ),
    )
    host: str = field(default="127.0.0.1", metadata=_doc("Address the HTTP server listens on."))
    port: int = field(default=8000, metadata=_doc("TCP port of the HTTP server."))
    max_body_bytes: int = field(
        default=2 * 1024 * 1024,
        metadata=_doc("Largest request body accepted; larger ones get 413."),
    )
    max_json_depth: int = field(
        default=32,
        metadata=_doc("Deepest nesting of arrays and objects accepted in a request body."),
    )
    page_limit_max: int = field(
        default=1000, metadata=_doc("Largest page a list endpoint returns (?limit=).")
    )
    declaration_cache_size: int = field(
        default=100_000,
        metadata=_doc("Declarations kept parsed in memory for detection (about 2 KB each)."),
    )
    shutdown_grace_s: int = field(
        default=5,
        metadata=_doc(
            "When the server stops, how long open requests get to finish before they are cut,"
            " seconds (live event streams never finish: their clients resume by Last-Event-ID)."
        ),
    )
    ledger_origin: str = field(
        default="deconflict/channel",
        metadata=_doc(
            "Name of the ledger in its checkpoints and key, fixed when the key is created"
            " (no spaces, no '+'; e.g. ops.example.org/channel)."
        ),
    )
    critical_deadline_s: float = field(
        default=120.0,
        metadata=_doc(
            "Time to acknowledge a critical notification, per escalation level, seconds."
        ),
    )
    high_deadline_s: float = field(
        default=300.0,
        metadata=_doc("Time to acknowledge a high notification, per escalation level, seconds."),
    )
    medium_deadline_s: float = field(
        default=900.0,
        metadata=_doc("Time to acknowledge a medium notification, per escalation level, seconds."),
    )
    escalation_tick_s: float = field(
        default=1.0,
        metadata=_doc(
            "How often the service looks for notifications past their deadline, seconds."
        ),
    )
    webhook_tick_s: float = field(
        default=1.0,
        metadata=_doc("How often the service looks for events to send to webhooks, seconds."),
    )
    webhook_timeout_s: float = field(
        default=5.0,
        metadata=_doc("How long a webhook receiver has to answer before the try fails, seconds."),
    )
    line_test_times: str = field(
        default="",
        metadata=_doc(
            "UTC times of day a line test goes to every party, e.g. 06:00,18:00; empty: none."
        ),
    )
    launch_notice_min_notice_h: float = field(
        default=24.0,
        metadata=_doc("Minimum notice of a launch notice, hours; less is flagged late."),
    )
    movement_min_notice_h: float = field(
        default=48.0,
        metadata=_doc("Minimum notice of a humanitarian movement, hours; less is flagged late."),
    )
    emergency_movement_min_notice_h: float = field(
        default=24.0,
        metadata=_doc("Minimum notice of a movement marked emergency, hours."),
    )
    strike_short_notice_min: float = field(
        default=15.0,
        metadata=_doc("A strike declared with less notice than this is flagged short, minutes."),
    )
    event_poll_s: float = field(
        default=0.025,
        metadata=_doc(
            "How often the service looks for new events to push to live streams, seconds"
            " (bounds the extra delay of an event)."
        ),
    )
    event_keepalive_s: float = field(
        default=15.0,
        metadata=_doc(
            "Longest silence on a live event stream before a keep-alive comment, seconds."
        ),
    )
    air_separation_nm: float = field(
        default=DEFAULT_AIR_SEPARATION_NM,
        metadata=_doc(
            "Horizontal separation between air operations of different parties, nautical miles."
        ),
    )
    air_separation_ft: float = field(
        default=DEFAULT_AIR_SEPARATION_FT,
        metadata=_doc("Vertical separation between air operations of different parties, feet."),
    )
    protected_site_radius_m: float = field(
        default=DEFAULT_PROTECTED_SITE_RADIUS_M,
        metadata=_doc("How far beyond its footprint a protected site is protected, metres."),
    )

    track_cycle_s: float = field(
        default=1.0,
        metadata=_doc("How often the service predicts encounters between tracks, seconds."),
    )
    track_lookahead_s: float = field(
        default=300.0,
        metadata=_doc("How far ahead a detection cycle predicts tracks, seconds."),
    )
    track_separation_nm: float = field(
        default=5.0,
        metadata=_doc("Horizontal separation between aircraft of different parties, NM."),
    )
    track_separation_ft: float = field(
        default=1000.0,
        metadata=_doc("Vertical separation between aircraft of different parties, feet."),
    )
    track_stale_s: float = field(
        default=30.0,
        metadata=_doc("A track report older than this takes no part in detection, seconds."),
    )
    track_retention_s: float = field(
        default=3600.0,
        metadata=_doc("How long the latest report of an aircraft is kept at most, seconds."),
    )
    track_grace_s: float = field(
        default=5.0,
        metadata=_doc("An encounter no longer predicted for this long is over, seconds."),
    )
    track_conformance_window_s: float = field(
        default=3600.0,
        metadata=_doc(
            "How long after a party's declaration ends its aircraft still inside it are"
            " flagged, seconds."
        ),
    )
    track_batch_max: int = field(
        default=10_000, metadata=_doc("Most track reports accepted in one batch.")
    )
    retention_tick_s: float = field(
        default=600.0,
        metadata=_doc("How often the service purges what is past retention, seconds."),
    )
    declaration_retention_days: float = field(
        default=30.0,
        metadata=_doc(
            "How long a declaration's rows (and its conflicts' and notifications') are kept after"
            " its time window ended or it was cancelled, days; the ledger keeps it for ever."
        ),
    )
    event_retention_days: float = field(
        default=14.0,
        metadata=_doc(
            "How long a live event is kept for streams to resume from, days (longer until the"
            " party's webhook has delivered it)."
        ),
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def postgres_url(self) -> str:
        """The PostgreSQL database to use; empty for the SQLite file."""
        return self.database_url or os.environ.get(DATABASE_URL_ENV, "")

    @property
    def database_name(self) -> str:
        """Where the data is, for messages: the file, or the server and database without any
        password."""
        url = self.postgres_url
        if not url:
            return str(self.database_path)
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    def deadlines(self) -> Deadlines:
        """Info notifications have no deadline."""
        return Deadlines(
            critical=timedelta(seconds=self.critical_deadline_s),
            high=timedelta(seconds=self.high_deadline_s),
            medium=timedelta(seconds=self.medium_deadline_s),
            info=None,
        )

    def track_policy(self) -> TrackPolicy:
        return TrackPolicy(
            separation=Separation(
                horizontal_m=self.track_separation_nm * NM_M,
                vertical_m=self.track_separation_ft * FT_M,
                lookahead_s=self.track_lookahead_s,
            ),
            stale_after=timedelta(seconds=self.track_stale_s),
            retention=timedelta(seconds=self.track_retention_s),
            grace=timedelta(seconds=self.track_grace_s),
            conformance_window=timedelta(seconds=self.track_conformance_window_s),
            batch_max=self.track_batch_max,
        )

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            declarations=timedelta(days=self.declaration_retention_days),
            events=timedelta(days=self.event_retention_days),
        )

    def line_tests(self) -> tuple[time, ...]:
        return parse_line_test_times(self.line_test_times)

    def notice_policy(self) -> NoticePolicy:
        """Strikes need no minimum notice; kinds not named here need none."""
        return NoticePolicy(
            minimums={
                Kind.LAUNCH_NOTICE: timedelta(hours=self.launch_notice_min_notice_h),
                Kind.STRIKE: timedelta(0),
                Kind.HUMANITARIAN_MOVEMENT: timedelta(hours=self.movement_min_notice_h),
            },
            emergency_minimums={
                Kind.HUMANITARIAN_MOVEMENT: timedelta(hours=self.emergency_movement_min_notice_h)
            },
            short_under={Kind.STRIKE: timedelta(minutes=self.strike_short_notice_min)},
        )

    def rules(self) -> RuleSet:
        return default_rules(
            air_separation_nm=self.air_separation_nm,
            air_separation_ft=self.air_separation_ft,
            protected_site_radius_m=self.protected_site_radius_m,
        )

    def to_text(self) -> str:
        """Every setting as JSON text (values as ``--set`` takes them): how ``serve --workers``
        hands them to its worker processes."""
        return json.dumps({f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)})

    @classmethod
    def from_text(cls, text: str) -> Settings:
        """The settings of :meth:`to_text`."""
        values = json.loads(text)
        return cls(database_url=values.pop("database_url", "")).with_values(values)

    def with_values(self, values: dict[str, str]) -> Settings:
        """A copy with settings given as text (``--set name=value``); unknown names and bad
        values raise ValueError."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for name, text in values.items():
            if name not in types:
                raise ValueError(f"unknown setting {name!r}")
            kind = str(types[name])
            value: Any = (
                Path(text)
                if kind == "Path"
                else int(text)
                if kind == "int"
                else (float(text) if kind == "float" else text)
            )
            if isinstance(value, int | float) and not value > 0:
                raise ValueError(f"setting {name} must be positive")
            if name == "line_test_times":
                parse_line_test_times(text)  # a bad time raises ValueError here
            changes[name] = value
        return dataclasses.replace(self, **changes)


def setting_docs() -> list[tuple[str, str, str]]:
    """(name, default, help) for every setting."""
    return [(f.name, str(f.default), f.metadata["help"]) for f in dataclasses.fields(Settings)]
