"""Simulated traffic for the demo: an American A-10 and a Russian Su-24 on straight patrol legs
that cross over the Euphrates east of Deir ez-Zor, 500 ft apart, as two such aircraft did in
December 2017. Each reports itself to the service, like any party's feed, once a second; they
meet every :data:`MEETING_INTERVAL_S`, so the demo shows encounters opening and closing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from deconflict.geodesy import GEOD
from deconflict.volumes import format_time

__all__ = ["MEETING_INTERVAL_S", "PATROLS", "Patrol", "feed", "reports"]

_CROSSING = (40.20, 35.30)
"""Lon, lat of the point both legs cross: the Euphrates east of Deir ez-Zor."""
_HALF_LEG_M = 40_000.0
_SPEED_MPS = 150.0
MEETING_INTERVAL_S = 2 * _HALF_LEG_M / _SPEED_MPS
"""Both aircraft pass the crossing together this often (once per leg)."""
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Patrol:
    party: str
    track_id: str
    inbound_deg: float
    """Heading of the first leg, towards the crossing; the aircraft starts half a leg out."""
    altitude_ft: float

    def state(self, elapsed_s: float) -> tuple[float, float, float]:
        """Lon, lat and track angle after ``elapsed_s`` seconds of shuttling along its leg."""
        leg = 2 * _HALF_LEG_M
        start_lon, start_lat, _ = GEOD.fwd(*_CROSSING, self.inbound_deg + 180.0, _HALF_LEG_M)
        along = (_SPEED_MPS * elapsed_s) % (2 * leg)
        if along <= leg:
            lon, lat, back = GEOD.fwd(start_lon, start_lat, self.inbound_deg, along)
            return lon, lat, (back + 180.0) % 360.0
        end_lon, end_lat, back_at_end = GEOD.fwd(start_lon, start_lat, self.inbound_deg, leg)
        lon, lat, back = GEOD.fwd(end_lon, end_lat, back_at_end % 360.0, along - leg)
        return lon, lat, (back + 180.0) % 360.0


PATROLS = (
    Patrol("coalition", "HOG21", inbound_deg=180.0, altitude_ft=15_000),
    Patrol("russia", "FENCER11", inbound_deg=90.0, altitude_ft=15_500),
)


def reports(elapsed_s: float, at: datetime) -> dict[str, list[dict[str, Any]]]:
    """Each party's batch at ``at``, ``elapsed_s`` after the feed started."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in PATROLS:
        lon, lat, track = p.state(elapsed_s)
        out.setdefault(p.party, []).append(
            {
                "track_id": p.track_id,
                "time": format_time(at),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "altitude": {"value": p.altitude_ft, "units": "ft", "reference": "AMSL"},
                "ground_speed": {"value": _SPEED_MPS, "units": "m/s"},
                "track_deg": round(track, 3) % 360.0,
                "vertical_rate": {"value": 0, "units": "ft/min"},
            }
        )
    return out


def feed(base_url: str, tokens: Mapping[str, str], stop: threading.Event) -> None:
    """Report the patrols to the service at ``base_url`` once a second until ``stop``."""
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        while not stop.wait(1.0):
            now = datetime.now(UTC)
            for party, batch in reports(time.monotonic() - started, now).items():
                try:
                    client.post(
                        "/v1/tracks",
                        json={"tracks": batch},
                        headers={"Authorization": f"Bearer {tokens[party]}"},
                    )
                except httpx.HTTPError as exc:  # the server is starting or stopping
                    _log.debug("demo traffic not sent: %s", exc)
