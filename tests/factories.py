"""Builders of request bodies for tests: volumes and declarations as plain JSON."""

from __future__ import annotations

from typing import Any

from deconflict.ledger import Ledger
from deconflict.notes import SignerKey

START = "2017-04-06T18:00:00Z"
END = "2017-04-07T06:00:00Z"


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def line(*positions: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(p) for p in positions]}


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    """A lon/lat rectangle (its edges are geodesics between the corners)."""
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def volume(
    geometry: dict[str, Any],
    *,
    buffer_m: float | None = None,
    lower: float = 0,
    upper: float = 10_000,
    units: str = "m",
    reference: str = "AMSL",
    start: str = START,
    end: str = END,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "geometry": geometry,
        "altitude": {"lower": lower, "upper": upper, "units": units, "reference": reference},
        "time": {"start": start, "end": end},
    }
    if buffer_m is not None:
        out["buffer_m"] = buffer_m
    return out


def declaration(kind: str, title: str, *volumes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "title": title, "volumes": list(volumes), **extra}


def hospital(title: str = "Field hospital", **extra: Any) -> dict[str, Any]:
    """A small protected site near Idlib, released to nobody unless ``released_to`` is given."""
    return declaration("protected_site", title, volume(point(36.6, 35.9), buffer_m=100), **extra)


def throwaway_ledger() -> Ledger:
    """A ledger with a throwaway signing key."""
    return Ledger(SignerKey.generate("test/ledger"))
